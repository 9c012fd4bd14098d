package dev.karta.cli;

import dev.karta.api.Printable;
import java.io.PrintWriter;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The {@code karta} command: builds the command tree by hand (no classpath scanning, no
 * annotations: {@link Commands}), maps every failure to one stderr line and an exit code (0 ok, 1
 * failure, 2 usage, 3 auth, 4 not found), and runs in-process against any {@link Environment}.
 */
public final class Main implements Callable<Integer> {
    static final String VERSION = versionOfJar();

    /** Every command by name, in the order of the help; each is built only when a run needs it ({@link #spec}). */
    private static final List<String> COMMANDS = List.of("login", "logout", "whoami", "projects", "keys", "init",
            "publish", "deploy", "rollback", "releases", "unpin", "config", "logs", "repo", "sessions", "usage",
            "audit", "previews", "webhooks", "ci", "git-credential");

    private final GlobalOptions options = new GlobalOptions();
    private final Environment env;
    private CommandSpec spec;

    Main(Environment env) {
        this.env = env;
    }

    public static void main(String[] args) {
        System.exit(new Main(Environment.system()).run(args));
    }

    /** Runs one command line and returns the exit code. */
    int run(String... args) {
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            // What scripts and installers run to check the CLI: answered before any command model
            // is built (half of this run's time), in the words picocli would use.
            env.stdout().println("karta " + VERSION);
            env.stdout().flush();
            return 0;
        }
        Cli cli = new Cli(env, options, VERSION);
        spec = Commands.command("karta", this,
                "Deploy harness applications to a Karta server: publish a folder, deploy a commit, roll back a release.")
                .addOption(options.json).addOption(options.server);
        spec.usageMessage().footer("", "Settings come from flags, then KARTA_SERVER and KARTA_API_KEY, then the file "
                + "written by `karta login` (~/.config/karta/config.toml).");
        // A run needs only the command it names: building the others would be wasted time.
        String wanted = commandName(args, COMMANDS);
        for (String command : COMMANDS) {
            if (wanted == null || wanted.equals(command)) {
                spec.addSubcommand(command, spec(command, cli));
            }
        }
        CommandLine commandLine = new CommandLine(spec);
        withVersion(commandLine);
        PrintWriter out = new PrintWriter(env.stdout(), true);
        PrintWriter err = new PrintWriter(env.stderr(), true);
        commandLine.setOut(out).setErr(err)
                .setParameterExceptionHandler((e, ignored) -> {
                    err.println("karta: " + e.getMessage());
                    if (e.getCommandLine().getCommandSpec().parent() != null
                            && !e.getCommandLine().getSubcommands().isEmpty()
                            && e.getMessage().startsWith("Missing required subcommand")) {
                        e.getCommandLine().usage(err);
                    } else if (!CommandLine.UnmatchedArgumentException.printSuggestions(e, err)) {
                        err.println("Run `" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help` for usage.");
                    }
                    return CliError.Kind.USAGE.exitCode();
                })
                .setExecutionExceptionHandler((e, ignored, parseResult) -> {
                    if (e instanceof CliError error) {
                        // Often the server's words, which may quote a tenant's text: one line, cleaned.
                        err.println("karta: " + Printable.line(error.getMessage()));
                        return error.exitCode();
                    }
                    err.println("karta: unexpected error: " + Printable.line(e.toString()));
                    if (env.variable("KARTA_DEBUG") != null) {
                        e.printStackTrace(err);
                    }
                    return CliError.Kind.FAILED.exitCode();
                });
        int code = commandLine.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /**
     * The command named {@code name}. A switch rather than a table of method references: each of
     * those would load its command's class and link a lambda at every start, for one command used.
     */
    private static CommandSpec spec(String name, Cli cli) {
        return switch (name) {
            case "login" -> LoginCommand.spec(cli);
            case "logout" -> LogoutCommand.spec(cli);
            case "whoami" -> WhoamiCommand.spec(cli);
            case "projects" -> ProjectsCommand.spec(cli);
            case "keys" -> KeysCommand.spec(cli);
            case "init" -> InitCommand.spec(cli);
            case "publish" -> PublishCommand.spec(cli);
            case "deploy" -> DeployCommand.spec(cli);
            case "rollback" -> RollbackCommand.spec(cli);
            case "releases" -> ReleasesCommand.spec(cli);
            case "unpin" -> UnpinCommand.spec(cli);
            case "config" -> ConfigCommand.spec(cli);
            case "logs" -> LogsCommand.spec(cli);
            case "repo" -> RepoCommand.spec(cli);
            case "sessions" -> SessionsCommand.spec(cli);
            case "usage" -> UsageCommand.spec(cli);
            case "audit" -> AuditCommand.spec(cli);
            case "previews" -> PreviewsCommand.spec(cli);
            case "webhooks" -> WebhooksCommand.spec(cli);
            case "ci" -> CiCommand.spec(cli);
            case "git-credential" -> GitCredentialCommand.spec(cli);
            default -> throw new IllegalArgumentException("no command " + name);
        };
    }

    /** Every command answers {@code --version}, not only the top one. */
    private static void withVersion(CommandLine command) {
        command.getCommandSpec().versionProvider(() -> new String[] {"karta " + VERSION});
        command.getSubcommands().values().forEach(Main::withVersion);
    }

    /** {@code karta} alone prints the help, like gh and heroku. */
    @Override
    public Integer call() {
        spec.commandLine().usage(env.stdout());
        return 0;
    }

    /**
     * The command a command line names, when it names one we have: the first word that is not
     * a global option or its value. Null means "build them all" (help, typos, no command).
     */
    static String commandName(String[] args, Collection<String> known) {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--server")) {
                i++;
            } else if (!arg.startsWith("-")) {
                return known.contains(arg) ? arg : null;
            }
        }
        return null;
    }

    private static String versionOfJar() {
        String version = Main.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }
}
