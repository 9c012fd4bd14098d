package dev.karta.cli;

import dev.karta.api.Deploy;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta publish [NAME] [--dir .]}: archives a folder (honouring {@code .gitignore}),
 * uploads it as a new release of NAME (created on first publish), follows the build log, and
 * ends with "Released vN — URL" or the reason it failed.
 */
final class PublishCommand {
    static final Pattern PROJECT_NAME = Pattern.compile("[a-z][a-z0-9-]{1,38}[a-z0-9]");

    private final Cli cli;

    PublishCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        PublishCommand publish = new PublishCommand(cli);
        PositionalParamSpec name = Commands.optionalParameter("NAME", "The project (default: the folder's name).");
        OptionSpec dir = Commands.option("--dir").paramLabel("DIR").defaultValue(".")
                .description("The folder to publish (default: .).").build();
        OptionSpec commit = Commands.option("--commit").paramLabel("SHA")
                .description("Record this commit as the release's source.").build();
        return Commands.command("publish", () -> publish.publish(name.getValue(), dir.getValue(), commit.getValue()),
                "Upload a folder as a new release and wait for its build.",
                "Files matched by .gitignore (nested ones too) and the .git folder are left out.",
                "The project is created on first publish; NAME defaults to the folder's name.")
                .addPositional(name).addOption(dir).addOption(commit);
    }

    int publish(String name, String dir, String commit) throws IOException {
        Path folder = cli.env().workingDir().resolve(dir).normalize();
        if (!Files.isDirectory(folder)) {
            throw CliError.usage("no folder at " + folder);
        }
        String project = name != null ? name : projectNameOf(folder, "publish");
        ApiClient api = cli.api();

        SourceArchive.Contents contents = SourceArchive.scan(folder);
        for (String path : contents.skipped()) {
            cli.say("karta: skipping " + path + ": only regular files and symlinks are published");
        }
        if (contents.entries().isEmpty()) {
            throw CliError.failed("nothing to publish in " + folder + ": it is empty, or .gitignore excludes everything");
        }
        Path archive = Files.createTempFile("karta-publish-", ".tar.gz"); // mode 0600
        archive.toFile().deleteOnExit(); // also when interrupted mid-upload
        Deploy queued;
        try {
            SourceArchive.write(contents.entries(), project, Files.newOutputStream(archive));
            long size = Files.size(archive);
            int files = contents.entries().size();
            cli.say("Packed " + files + (files == 1 ? " file" : " files") + " (" + Output.bytes(contents.bytes())
                    + ") from " + folder);
            Progress progress = new Progress(cli.env().stderr(), size, cli.env().interactive());
            queued = api.uploadRelease(project, archive, commit, UUID.randomUUID().toString(), progress::sent).value();
            progress.done();
        } finally {
            Files.deleteIfExists(archive);
        }
        cli.say("Building " + project + " (" + queued.id() + ")…");
        Deploy finished = DeployCommand.follow(cli, api, project, queued.id());
        return DeployCommand.finish(cli, api, finished);
    }

    /** The folder's name, lowercased, when it is a valid project name; else a usage error naming {@code command}. */
    static String projectNameOf(Path folder, String command) {
        Path last = folder.toAbsolutePath().normalize().getFileName();
        String derived = last == null ? "" : last.toString().toLowerCase(Locale.ROOT);
        if (!PROJECT_NAME.matcher(derived).matches()) {
            throw CliError.usage("the folder name '" + (last == null ? "/" : last) + "' is not a valid project name "
                    + "(3-40 characters of a-z, 0-9 and '-', starting with a letter): pass one, "
                    + "e.g. `karta " + command + " my-app`");
        }
        return derived;
    }

    /** "Uploading 12.3 MB… 45%" on a terminal, rewritten in place; one line otherwise. */
    private static final class Progress {
        private final PrintStream err;
        private final long total;
        private final boolean live;
        private long lastPrinted;

        Progress(PrintStream err, long total, boolean live) {
            this.err = err;
            this.total = total;
            this.live = live;
            if (!live) {
                err.println("Uploading " + Output.bytes(total) + "…");
            }
        }

        void sent(long bytes) {
            long now = System.nanoTime();
            if (live && (now - lastPrinted > 100_000_000L || bytes == total)) {
                lastPrinted = now;
                err.print("\rUploading " + Output.bytes(total) + "… " + (total == 0 ? 100 : bytes * 100 / total) + "%");
                err.flush();
            }
        }

        void done() {
            if (live) {
                err.print("\r\033[K");
            }
            err.println("Uploaded " + Output.bytes(total) + ".");
        }
    }
}
