package dev.karta.cli;

import dev.karta.api.Pin;
import dev.karta.api.Project;
import dev.karta.api.ProjectList;
import dev.karta.api.Release;
import dev.karta.api.ReleaseList;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code karta projects list | create | info | releases | delete}. */
final class ProjectsCommand {
    private final Cli cli;

    ProjectsCommand(Cli cli) {
        this.cli = cli;
    }

    static CommandSpec spec(Cli cli) {
        ProjectsCommand projects = new ProjectsCommand(cli);
        return Commands.group("projects", List.of(
                Commands.command("list", projects::list, "List the projects of your org."),
                projects.createCommand(), projects.infoCommand(), projects.releasesCommand(), projects.deleteCommand()),
                "List, create, inspect and delete projects.");
    }

    int list() {
        ApiClient.Reply<ProjectList> reply = cli.api().projects();
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<Project> projects = reply.value().projects();
        if (projects.isEmpty()) {
            cli.say("No projects yet: create one with `karta projects create NAME` or `karta publish`.");
            return 0;
        }
        output.table(List.of("NAME", "RELEASE", "COMMIT", "URL", "CREATED"), projects.stream()
                .map(p -> List.of(
                        p.name(),
                        p.currentRelease() == null ? Output.NONE : p.currentRelease().version(),
                        p.currentRelease() == null ? Output.NONE : Output.shortSha(p.currentRelease().commitSha()),
                        Output.or(p.url()),
                        output.age(p.createdAt())))
                .toList());
        return 0;
    }

    private CommandSpec createCommand() {
        PositionalParamSpec name = Commands.parameter("NAME", "3-40 characters of a-z, 0-9 and '-', starting with a letter.");
        return Commands.command("create", () -> create(name.getValue()),
                "Create an empty project. `karta publish` and `git push` create one on first use too.").addPositional(name);
    }

    int create(String name) {
        ApiClient.Reply<Project> reply = cli.api().createProject(name);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        Project p = reply.value();
        output.line("Created project " + p.name());
        output.fields(List.of(List.of("URL", Output.or(p.url())), List.of("Git remote", Output.or(p.gitUrl()))));
        return 0;
    }

    private CommandSpec infoCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        return Commands.command("info", () -> info(name.getValue()), "Show a project.").addPositional(name);
    }

    int info(String name) {
        ApiClient.Reply<Project> reply = cli.api().project(name);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        Project p = reply.value();
        output.fields(List.of(
                List.of("Name", p.name()),
                List.of("URL", Output.or(p.url())),
                List.of("Git remote", Output.or(p.gitUrl())),
                List.of("Release", p.currentRelease() == null ? "none yet"
                        : p.currentRelease().version() + " (" + Output.shortSha(p.currentRelease().commitSha()) + ")"),
                List.of("Pinned", pinLine(p.pinned())),
                List.of("Repository", p.repo() == null ? "not bound" : p.repo().url() + " (" + p.repo().branch() + ")"),
                List.of("Sessions", liveSessions(p.liveSessions())),
                List.of("Created", p.createdAt() == null ? Output.NONE
                        : p.createdAt() + " (" + output.age(p.createdAt()) + ")")));
        return 0;
    }

    /** "v3 by key_… at …; deploys build but do not go live", or "no". */
    static String pinLine(Pin pin) {
        return pin == null ? "no" : pin.version() + (pin.by() == null ? "" : " by " + pin.by())
                + (pin.at() == null ? "" : " at " + pin.at()) + "; deploys build but do not go live";
    }

    /**
     * "v3: active, 2 live sessions; v2: 5 live sessions (draining)": what still runs on an older
     * release after a deploy or rollback; "none" before the first release.
     */
    static String liveSessions(List<Project.ReleaseSessions> releases) {
        if (releases.isEmpty()) {
            return "none";
        }
        return releases.stream()
                .map(r -> r.version() + ": " + (r.active() ? "active, " : "") + r.sessions() + " live session"
                        + (r.sessions() == 1 ? "" : "s") + (r.active() ? "" : " (draining)"))
                .collect(Collectors.joining("; "));
    }

    private CommandSpec releasesCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        return Commands.command("releases", () -> releases(name.getValue()),
                "List a project's releases, newest first; the active one is marked with *.",
                "Status built: made while the project was pinned, never active. A ROLLBACK column",
                "appears when a release can no longer be activated (its files are gone), saying why.").addPositional(name);
    }

    int releases(String name) {
        ApiClient.Reply<ReleaseList> reply = cli.api().releases(name);
        Output output = cli.output();
        if (output.jsonMode()) {
            output.json(reply.body());
            return 0;
        }
        List<Release> releases = reply.value().releases();
        if (releases.isEmpty()) {
            cli.say("No releases of " + name + " yet: publish one with `karta publish " + name + "`.");
            return 0;
        }
        Pin pin = reply.value().pinned();
        if (pin != null) {
            output.line("Pinned to " + pinLine(pin) + " (`karta unpin " + name + "`)");
        }
        boolean unavailable = releases.stream().anyMatch(r -> Boolean.FALSE.equals(r.activatable()));
        List<String> headers = new ArrayList<>(List.of("VERSION", "STATUS", "COMMIT", "HARNESS", "BUILD", "SOURCE",
                "AGE"));
        if (unavailable) {
            headers.add("ROLLBACK");
        }
        output.table(headers, releases.stream()
                .map(r -> {
                    List<String> row = new ArrayList<>(List.of(
                            r.version(),
                            "active".equals(r.status()) ? "* active" : Output.or(r.status()),
                            Output.shortSha(r.commitSha()),
                            Output.or(r.harness()),
                            Output.or(r.buildKind()),
                            Output.or(r.source()),
                            output.age(r.createdAt())));
                    if (unavailable) {
                        row.add(!Boolean.FALSE.equals(r.activatable()) ? "yes" : "no: " + Output.or(r.unavailableReason()));
                    }
                    return row;
                })
                .toList());
        return 0;
    }

    private CommandSpec deleteCommand() {
        PositionalParamSpec name = Commands.parameter("NAME");
        OptionSpec yes = Commands.flag("-y", "--yes").description("Do not ask for confirmation.").build();
        return Commands.command("delete", () -> delete(name.getValue(), yes.getValue()),
                "Delete a project with all its releases. This cannot be undone.",
                "Asks for the project name on a terminal; elsewhere --yes is required.")
                .addPositional(name).addOption(yes);
    }

    int delete(String name, boolean yes) {
        ApiClient api = cli.api();
        if (!yes) {
            Terminal terminal = cli.env().terminal();
            if (terminal == null) {
                throw CliError.usage("refusing to delete project " + name
                        + " without confirmation: pass --yes when not running on a terminal");
            }
            String typed = terminal.readLine("This deletes project " + name
                    + " and all its releases. Type its name to confirm: ");
            if (typed == null || !typed.strip().equals(name)) {
                throw CliError.failed("not deleted: the name typed did not match " + name);
            }
        }
        api.deleteProject(name);
        if (!cli.output().jsonMode()) {
            cli.output().line("Deleted project " + name);
        }
        return 0;
    }
}
