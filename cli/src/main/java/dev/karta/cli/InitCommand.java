package dev.karta.cli;

import dev.karta.api.Project;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code karta init [NAME] [--force]} (docs/git-push.md, "CLI contract"): inside a git work tree,
 * finds or creates the project, points the remote {@code karta} at its {@code git_url}, and makes
 * {@code karta git-credential} the only credential helper for the server's origin in the
 * repository's local config, so pushes use the logged-in key and the key is never written into
 * {@code .git/config} or the URL. Running it again changes nothing; a {@code karta} remote that
 * points elsewhere is only replaced with {@code --force}, and is checked before anything is
 * created.
 */
final class InitCommand {
    static final String REMOTE = "karta";
    /** Set by the {@code karta} launcher to its own path, so git can call this CLI back. */
    static final String ENV_LAUNCHER = "KARTA_LAUNCHER";
    private static final String DEPLOY_BRANCH = "main";
    /** {@code scheme://user:password@}: the password part of a URL's user information. */
    private static final Pattern USERINFO_PASSWORD = Pattern.compile("^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*:)[^/@]*@");

    private final Cli cli;

    InitCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        InitCommand init = new InitCommand(cli);
        PositionalParamSpec name = Commands.optionalParameter("NAME",
                "The project (default: the repository folder's name); created when missing.");
        OptionSpec force = Commands.flag("--force").description("Replace a `karta` remote that points somewhere else.")
                .build();
        return Commands.command("init", () -> init.init(name.getValue(), force.getValue()),
                "Set up this git repository to deploy with `git push karta main`.",
                "Creates the project if it does not exist, adds the git remote `karta`, and lets git use your "
                        + "Karta key through `karta git-credential` (the key is never written into .git/config).",
                "NAME defaults to the repository folder's name.").addPositional(name).addOption(force);
    }

    /** The remote {@code karta} as configured: its URL and any separate push URLs. */
    record Remote(String url, List<String> pushUrls) {
        boolean pointsTo(String gitUrl) {
            return url.equals(gitUrl) && pushUrls.stream().allMatch(gitUrl::equals);
        }

        /** The URLs as messages show them: a password in one (a key, say) is masked. */
        @Override
        public String toString() {
            String shown = masked(url);
            return pushUrls.isEmpty() ? shown
                    : shown + " (push: " + String.join(", ", pushUrls.stream().map(Remote::masked).toList()) + ")";
        }

        static String masked(String url) {
            return USERINFO_PASSWORD.matcher(url).replaceFirst("$1***@");
        }
    }

    /** The project as the server answered, and whether this run created it. */
    private record Found(ApiClient.Reply<Project> reply, boolean created) {
    }

    int init(String name, boolean force) {
        Environment env = cli.env();
        Git git = new Git(env, env.workingDir());
        Git.Result top = git.run("rev-parse", "--show-toplevel");
        if (!top.ok()) {
            throw CliError.failed("not inside a git repository (" + env.workingDir() + "): run `git init`, "
                    + "commit your app, then `karta init`");
        }
        String project = name != null ? name : PublishCommand.projectNameOf(Path.of(top.line()), "init");
        ApiClient api = cli.api();
        Remote existing = remote(git);

        Found found = findOrCreate(api, project, existing, force);
        Project p = found.reply().value();
        String gitUrl = p.gitUrl();
        if (gitUrl == null || gitUrl.isBlank()) {
            throw CliError.failed("the server gave no git URL for project " + p.name());
        }
        String remoteLine = pointRemote(git, existing, p.name(), gitUrl, force);
        String origin = GitCredentialCommand.origin(gitUrl);
        String launcher = launcher();
        String helperKey = "credential." + origin + ".helper";
        // An empty value first resets the list of helpers (git-config(1), credential.helper), so
        // no keychain or store helper from the global config ever receives the key.
        git.require("config", "--local", "--replace-all", helperKey, "");
        git.require("config", "--local", "--add", helperKey, "!" + doubleQuoted(launcher) + " git-credential");

        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(found.reply().body());
        } else {
            output.line((found.created() ? "Created project " : "Using project ") + p.name());
            output.line(remoteLine);
            output.line("Git pushes to " + origin + " use your Karta key (credential helper: "
                    + launcher + " git-credential)");
        }
        notes(origin);
        Git.Result branch = git.run("symbolic-ref", "--quiet", "--short", "HEAD");
        String local = branch.ok() ? branch.line() : DEPLOY_BRANCH;
        cli.say("Deploy with `git push " + REMOTE + " " + (local.equals(DEPLOY_BRANCH) ? local : local + ":"
                + DEPLOY_BRANCH) + "`; pushes to other branches are stored, not deployed.");
        return 0;
    }

    /**
     * The project: looked up first, created on 404. A {@code karta} remote for another project is
     * refused before anything is created; one that already names this project (deleted since,
     * say) is compared exactly once the project exists again.
     */
    private Found findOrCreate(ApiClient api, String project, Remote existing, boolean force) {
        ApiClient.Reply<Project> reply = find(api, project);
        if (reply != null) {
            return new Found(reply, false);
        }
        if (existing != null && !force && !existing.url().endsWith("/git/" + project + ".git")) {
            throw CliError.failed("git remote '" + REMOTE + "' already points to " + existing
                    + ": run `karta init " + project + " --force` to create project " + project
                    + " and point '" + REMOTE + "' at it");
        }
        try {
            return new Found(api.createProject(project), true);
        } catch (CliError e) {
            // 409: created meanwhile, by someone of this org (then it is found) or of another.
            ApiClient.Reply<Project> raced = e.httpStatus() == 409 ? find(api, project) : null;
            if (raced == null) {
                throw e;
            }
            return new Found(raced, false);
        }
    }

    /** Adds the remote, leaves it when it already points there, or replaces it with --force; says which. */
    private String pointRemote(Git git, Remote existing, String project, String gitUrl, boolean force) {
        if (existing == null) {
            git.require("remote", "add", REMOTE, gitUrl);
            return "Added git remote " + REMOTE + ": " + gitUrl;
        }
        if (existing.pointsTo(gitUrl)) {
            return "Git remote " + REMOTE + " already points to " + gitUrl;
        }
        if (!force) {
            throw CliError.failed("git remote '" + REMOTE + "' already points to " + existing + ", not to project "
                    + project + " (" + gitUrl + "): run `karta init " + project + " --force` to replace it");
        }
        git.require("remote", "set-url", REMOTE, gitUrl);
        if (!existing.pushUrls().isEmpty()) {
            git.require("config", "--local", "--unset-all", "remote." + REMOTE + ".pushurl");
        }
        return "Replaced git remote " + REMOTE + " (was " + existing + "): " + gitUrl;
    }

    /** What the helper cannot do later from here: answer for another server, or without a saved key. */
    private void notes(String origin) {
        Settings settings = cli.settings();
        String scheme = origin.substring(0, origin.indexOf("://"));
        String host = origin.substring(origin.indexOf("://") + 3);
        if (!GitCredentialCommand.sameOrigin(scheme, host, settings.server())) {
            cli.say("karta: note: git pushes go to " + origin + " but you are logged in to " + settings.server()
                    + "; run `karta login --server " + origin + "` so `karta git-credential` answers for it");
        } else if (settings.keySource() == Settings.Source.ENVIRONMENT) {
            cli.say("karta: note: your key comes from " + Settings.ENV_API_KEY + "; git pushes can use it only while "
                    + "it is set (run `karta login` to save it)");
        }
    }

    /**
     * The path git runs as the credential helper: {@value #ENV_LAUNCHER} (the launcher exports its
     * own path), else the first executable {@code karta} on PATH, else plain {@code karta}.
     */
    private String launcher() {
        Environment env = cli.env();
        String set = env.variable(ENV_LAUNCHER);
        if (set != null) {
            return env.workingDir().resolve(set).toAbsolutePath().normalize().toString();
        }
        String path = env.variable("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (dir.isEmpty() || !Path.of(dir).isAbsolute()) {
                    continue;
                }
                Path candidate = Path.of(dir).resolve("karta");
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                    return candidate.toString();
                }
            }
        }
        cli.say("karta: note: " + ENV_LAUNCHER + " is not set and there is no `karta` on PATH; git will look for "
                + "`karta` on its PATH when it pushes");
        return "karta";
    }

    private static Remote remote(Git git) {
        Git.Result url = git.run("config", "--get", "remote." + REMOTE + ".url");
        if (url.exitCode() == 1) {
            return null;
        }
        if (!url.ok()) {
            throw CliError.failed("cannot read git remote '" + REMOTE + "': " + url.stderr().strip());
        }
        Git.Result push = git.run("config", "--get-all", "remote." + REMOTE + ".pushurl");
        return new Remote(url.line(), push.ok() ? push.stdout().lines().filter(l -> !l.isBlank()).toList() : List.of());
    }

    /** The project, or null when the server answers 404. */
    private static ApiClient.Reply<Project> find(ApiClient api, String project) {
        try {
            return api.project(project);
        } catch (CliError e) {
            if (e.httpStatus() == 404) {
                return null;
            }
            throw e;
        }
    }

    /** A word for {@code sh}: in double quotes, with the four characters special there escaped. */
    static String doubleQuoted(String word) {
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : word.toCharArray()) {
            if (c == '"' || c == '\\' || c == '$' || c == '`') {
                quoted.append('\\');
            }
            quoted.append(c);
        }
        return quoted.append('"').toString();
    }
}
