package dev.karta.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * How a command declares itself: picocli's programmatic model, not its annotations. Reading
 * annotations at run time made picocli spin a proxy class per annotation type and reflect over
 * every command class, about half of a short run (issue 16); these specs are plain objects. A
 * command's options and parameters are {@link OptionSpec}s and {@link PositionalParamSpec}s that
 * its handler reads with {@code getValue()} once the line is parsed.
 */
final class Commands {
    private Commands() {
    }

    /** A command that runs {@code handler} (its exit code), with {@code --help} and {@code --version}. */
    static CommandSpec command(String name, Callable<Integer> handler, String... description) {
        return withStandardHelp(CommandSpec.wrapWithoutInspection(handler), name, description);
    }

    /** A command that only groups subcommands: alone, it says which are missing and prints its help. */
    static CommandSpec group(String name, List<CommandSpec> subcommands, String... description) {
        CommandSpec group = withStandardHelp(CommandSpec.create(), name, description);
        for (CommandSpec subcommand : subcommands) {
            group.addSubcommand(subcommand.name(), subcommand);
        }
        return group;
    }

    /** An option that takes no value: false unless given. */
    static OptionSpec.Builder flag(String... names) {
        return OptionSpec.builder(names).type(boolean.class).initialValue(false);
    }

    /** An option that takes one word; null unless given or defaulted. */
    static OptionSpec.Builder option(String... names) {
        return OptionSpec.builder(names).type(String.class);
    }

    /** A required positional parameter taking one word, in the order parameters are added. */
    static PositionalParamSpec parameter(String label, String... description) {
        return PositionalParamSpec.builder().paramLabel(label).required(true).description(description).build();
    }

    /** A positional parameter taking one word that may be left out: null then. */
    static PositionalParamSpec optionalParameter(String label, String... description) {
        return PositionalParamSpec.builder().paramLabel(label).arity("0..1").description(description).build();
    }

    private static CommandSpec withStandardHelp(CommandSpec spec, String name, String... description) {
        spec.name(name);
        spec.usageMessage().description(description);
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                .description("Show this help message and exit.").build());
        return spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
                .description("Print version information and exit.").build());
    }
}
