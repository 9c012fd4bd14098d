package dev.karta.cli;

import dev.karta.api.AuditEvent;
import dev.karta.api.AuditEventList;
import dev.karta.api.Durations;
import dev.karta.api.LedgerVerification;
import dev.karta.api.Printable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** {@code karta audit list | verify | export}: the org's audit log and its tamper-evident ledger. */
final class AuditCommand {
    private static final int MAX_LIMIT = 1000;

    private final Cli cli;

    AuditCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        AuditCommand audit = new AuditCommand(cli);
        return Commands.group("audit", List.of(audit.listCommand(),
                        Commands.command("verify", audit::verify,
                                "Check every hash and link of the org's audit chain and release chains; exit 1 at a break."),
                        audit.exportCommand()),
                "Read, verify and export your org's audit log and release ledger (admin).");
    }

    private CommandSpec listCommand() {
        OptionSpec limit = OptionSpec.builder("--limit").type(int.class).paramLabel("N").defaultValue("20")
                .description("How many events (1-" + MAX_LIMIT + ", default ${DEFAULT-VALUE}).").build();
        return Commands.command("list", () -> list(limit.getValue()), "List the newest audit events, newest first.")
                .addOption(limit);
    }

    private CommandSpec exportCommand() {
        OptionSpec since = Commands.option("--since").paramLabel("WHEN")
                .description("Only entries from then on: an RFC 3339 time or an age such as 30d or 12h.").build();
        OptionSpec file = OptionSpec.builder("--output").type(Path.class).paramLabel("FILE")
                .description("Write to FILE (replaced only once the export is complete) instead of "
                        + "standard output.").build();
        return Commands.command("export", () -> export(since.getValue(), file.getValue()),
                "Write the audit events and releases as JSON Lines that verify offline (docs/audit.md).")
                .addOption(since).addOption(file);
    }

    int list(int limit) {
        if (limit < 1 || limit > MAX_LIMIT) {
            throw CliError.usage("--limit must be between 1 and " + MAX_LIMIT + ", got " + limit);
        }
        ApiClient.Reply<AuditEventList> reply = cli.api().auditEvents(limit);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<List<String>> rows = new ArrayList<>();
        for (AuditEvent e : reply.value().events()) {
            rows.add(List.of(Long.toString(e.id()), output.age(e.time()), e.action(), e.resource(),
                    Output.or(e.actorKeyId()), Output.or(e.remoteIp()), shortHash(e.hash())));
        }
        output.table(List.of("ID", "TIME", "ACTION", "RESOURCE", "KEY", "FROM", "HASH"), rows);
        return 0;
    }

    int verify() {
        ApiClient.Reply<LedgerVerification> reply = cli.api().verifyLedger();
        Output output = cli.output();
        LedgerVerification verified = reply.value();
        if (output.jsonMode()) {
            output.json(reply.body());
        } else if (verified.ok()) {
            output.line("Verified " + verified.checked() + " entries: the chain is intact.");
        } else {
            LedgerVerification.Break broken = verified.firstBreak();
            String what = broken.kind().equals("release")
                    ? "release " + broken.version() + " of " + broken.project() + " (" + broken.id() + ")"
                    : "audit event " + broken.id();
            output.line("The chain is broken at " + what + ": " + broken.reason() + ".");
            output.line(verified.checked() + " entries before it verified.");
        }
        return verified.ok() ? 0 : 1;
    }

    int export(String since, Path file) {
        try {
            Durations.timeOrAge(since, cli.env().clock().instant());
        } catch (IllegalArgumentException e) {
            throw CliError.usage("invalid --since '" + since + "': " + Durations.TIME_FORMS);
        }
        ApiClient api = cli.api();
        if (file == null) {
            api.exportLedger(since, cli.env().stdout());
            cli.env().stdout().flush();
            return 0;
        }
        Path target = cli.env().workingDir().resolve(file);
        Path partial = target.resolveSibling("." + target.getFileName() + ".partial");
        long bytes;
        try (OutputStream out = Files.newOutputStream(partial)) {
            bytes = api.exportLedger(since, out);
        } catch (IOException e) {
            deleteQuietly(partial);
            throw CliError.failed("cannot write " + partial + ": " + e.getMessage());
        } catch (RuntimeException e) {
            deleteQuietly(partial);
            throw e;
        }
        try {
            Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(partial);
            throw CliError.failed("cannot write " + target + ": " + e.getMessage());
        }
        cli.say("Wrote " + bytes + " bytes to " + Printable.line(target.toString()) + "; verify it offline with the "
                + "script in docs/audit.md.");
        return 0;
    }

    private static String shortHash(String hash) {
        return hash == null ? Output.NONE : hash.substring(0, Math.min(hash.length(), "sha256:".length() + 12));
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // The partial file is named as such; nothing better to do with a second failure.
        }
    }
}
