/**
 * The {@code karta} command line: one picocli command class per command or command group, an
 * {@link dev.karta.cli.ApiClient} that does all HTTP, and {@link dev.karta.cli.Output} that
 * prints tables or JSON. Settings come from flags, then the environment, then
 * {@code ~/.config/karta/config.toml}; {@link dev.karta.cli.Environment} is the only door to the
 * process (variables, home, standard streams, terminal) so tests run the CLI in-process.
 */
package dev.karta.cli;
