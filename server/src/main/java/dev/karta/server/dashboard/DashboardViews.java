package dev.karta.server.dashboard;

import dev.karta.api.ApiKey;
import dev.karta.api.AuditEvent;
import dev.karta.api.Deploy;
import dev.karta.api.Project;
import dev.karta.api.Release;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.dashboard.Pages.Frame;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.Deploys;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Principal;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectRoutes;
import dev.karta.server.projects.Projects;
import dev.karta.server.releases.Releases;
import dev.karta.server.releases.RollbackPreviews;
import dev.karta.server.sessions.Sessions;
import dev.karta.server.usage.UsageStore;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads what each dashboard page shows, through the same services the API's handlers use, and
 * holds the caller to what its key may see (its org; its project, for a restricted key).
 */
public final class DashboardViews {
    /** The log windows the project page offers, as ages the log API takes. */
    static final List<String> LOG_WINDOWS = List.of("15m", "1h", "24h", "7d");
    static final List<String> LOG_SOURCES = List.of("build", "release", "session", "system");
    static final int AUDIT_PAGE = 50;
    private static final int DEPLOYS_SHOWN = 500;
    private static final int SESSIONS_SHOWN = 20;
    private static final Pattern GITHUB = Pattern.compile(
            "https://github\\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\\.git)?/?");
    private static final Pattern SHA = Pattern.compile("[0-9a-f]{7,64}");

    private final Projects projects;
    private final ProjectRoutes.LiveSessions liveSessions;
    private final Releases releases;
    private final RollbackPreviews rollbacks;
    private final Deploys deploys;
    private final Sessions sessions;
    private final UsageStore usage;
    private final ApiKeys keys;
    private final AuditLog audit;

    public DashboardViews(Projects projects, ProjectRoutes.LiveSessions liveSessions, Releases releases,
                   RollbackPreviews rollbacks, Deploys deploys, Sessions sessions, UsageStore usage, ApiKeys keys,
                   AuditLog audit) {
        this.projects = projects;
        this.liveSessions = liveSessions;
        this.releases = releases;
        this.rollbacks = rollbacks;
        this.deploys = deploys;
        this.sessions = sessions;
        this.usage = usage;
        this.keys = keys;
        this.audit = audit;
    }

    Pages.Projects projects(Frame frame, Principal principal, String query) {
        String q = query == null ? "" : query.trim();
        Map<String, Map<Integer, Long>> live = liveSessions.byRelease(principal.orgId(), null);
        List<ProjectRecord> reachable = projects.list(principal.orgId()).stream()
                .filter(p -> principal.mayReach(p.name()))
                .toList();
        Map<String, DeployRecord> newest = deploys.newestByProject(principal.orgId());
        List<Pages.ProjectRow> rows = reachable.stream()
                .filter(p -> p.name().contains(q.toLowerCase(Locale.ROOT)))
                .map(p -> {
                    Project wire = projects.toWire(p, live.getOrDefault(p.id(), Map.of()));
                    DeployRecord last = newest.get(p.id());
                    return new Pages.ProjectRow(p.name(),
                            wire.currentRelease() == null ? null : wire.currentRelease().version(),
                            wire.pinned() != null, wire.pinned() == null ? null : wire.pinned().version(),
                            last == null ? null : last.toWire(),
                            liveCount(wire));
                })
                .toList();
        return new Pages.Projects(frame, q, rows, reachable.size());
    }

    Pages.Project project(Frame frame, Principal principal, String name, String source, String window) {
        ProjectRecord project = require(principal, name);
        Project wire = projects.toWire(project, liveSessions.byRelease(principal.orgId(), project.id())
                .getOrDefault(project.id(), Map.of()));
        // Production only: preview builds have their own line (docs/previews.md).
        List<Deploy> recent = deploys.list(project, DEPLOYS_SHOWN).stream().map(DeployRecord::toWire)
                .filter(d -> d.preview() == null).toList();
        // The org's key names are org-wide knowledge: a key restricted to a project sees key ids.
        Map<String, String> keyNames = principal.isRestricted() ? Map.of() : keys.list(principal.orgId()).stream()
                .collect(Collectors.toMap(ApiKey::id, ApiKey::name));
        boolean admin = principal.scope().includes(dev.karta.server.http.Scope.ADMIN);
        List<Pages.TimelineRow> timeline = timeline(project, wire, recent, keyNames, admin);
        String streamUrl = "/agent_projects/" + name + "/logs?tail=true&since=" + window
                + (source == null ? "" : "&source=" + source);
        YearMonth month = YearMonth.now(ZoneOffset.UTC);
        return new Pages.Project(frame, name, wire.url(), wire.gitUrl(),
                wire.currentRelease() == null ? null : wire.currentRelease().version(),
                wire.pinned() == null ? null : wire.pinned().version(),
                wire.pinned() == null ? null : actor(wire.pinned().by(), keyNames),
                wire.pinned() == null ? null : wire.pinned().at(),
                recent.isEmpty() ? null : recent.get(0), timeline, new Pages.LogView(source, window, streamUrl,
                        LOG_SOURCES, LOG_WINDOWS),
                sessions.newest(project, SESSIONS_SHOWN), liveCount(wire),
                usage.of(project.id(), month), usage.daily(project.id(), month));
    }

    /** The project's releases and the deploys that failed before making one, newest first. */
    private List<Pages.TimelineRow> timeline(ProjectRecord project, Project wire, List<Deploy> recent,
                                             Map<String, String> keyNames, boolean admin) {
        Map<String, Deploy> byId = new HashMap<>();
        recent.forEach(d -> byId.put(d.id(), d));
        String commitBase = commitBase(wire);
        List<Pages.TimelineRow> rows = new ArrayList<>();
        for (Release r : releases.listWire(project)) {
            Deploy deploy = r.deployId() == null ? null : byId.get(r.deployId());
            boolean active = "active".equals(r.status());
            rows.add(new Pages.TimelineRow(r.version(), r.status(), r.commitSha(), commitUrl(commitBase, r.commitSha()),
                    r.source(), actor(r.actorKeyId(), keyNames), r.createdAt(),
                    deploy == null ? "—" : Format.duration(deploy.startedAt(), deploy.finishedAt()),
                    deploy == null ? null : deploy.id(),
                    admin && !active && Boolean.TRUE.equals(r.activatable()),
                    active ? null : r.unavailableReason(), null));
        }
        for (Deploy d : recent) {
            if (d.release() == null && ("failed".equals(d.status()) || "canceled".equals(d.status()))) {
                rows.add(new Pages.TimelineRow(null, d.status(), d.commitSha(), commitUrl(commitBase, d.commitSha()),
                        d.source(), "—", d.createdAt(), Format.duration(d.startedAt(), d.finishedAt()), d.id(),
                        false, null, d.error()));
            }
        }
        rows.sort(Comparator.comparing(Pages.TimelineRow::createdAt).reversed());
        return rows;
    }

    Pages.DeployPage deploy(Frame frame, Principal principal, String name, String id) {
        Deploy deploy = deploys.get(require(principal, name), id).toWire();
        return new Pages.DeployPage(frame, name, deploy, Format.duration(deploy.startedAt(), deploy.finishedAt()));
    }

    Pages.Rollback rollback(Frame frame, Principal principal, String name, String to) {
        return new Pages.Rollback(frame, name, rollbacks.preview(require(principal, name), to, true));
    }

    Pages.Keys keys(Frame frame, Principal principal, Pages.NewKey created, String error) {
        List<ApiKey> list = new ArrayList<>(keys.list(principal.orgId()));
        list.sort(Comparator.comparing(ApiKey::createdAt).reversed());
        return new Pages.Keys(frame, list, created, error,
                projects.list(principal.orgId()).stream().map(ProjectRecord::name).sorted().toList());
    }

    Pages.Audit audit(Frame frame, Principal principal, Long before) {
        // One more than a page, to know whether there is an older one.
        List<AuditEvent> events = audit.recent(principal.orgId(), before == null ? Long.MAX_VALUE : before,
                AUDIT_PAGE + 1);
        boolean older = events.size() > AUDIT_PAGE;
        List<AuditEvent> page = older ? events.subList(0, AUDIT_PAGE) : events;
        return new Pages.Audit(frame, page, older ? page.get(page.size() - 1).id() : null, before == null);
    }

    private ProjectRecord require(Principal principal, String name) {
        principal.requireProject(name);
        return projects.require(principal.orgId(), name);
    }

    private static long liveCount(Project wire) {
        return wire.liveSessions().stream().mapToLong(Project.ReleaseSessions::sessions).sum();
    }

    /** A key's name where the org still has it, else its id; "operator" for commands run on the host. */
    private static String actor(String keyId, Map<String, String> keyNames) {
        if (keyId == null) {
            return "operator";
        }
        return keyNames.getOrDefault(keyId, keyId);
    }

    /** {@code https://github.com/OWNER/REPO/commit/} when the project's repository is on GitHub, else null. */
    private static String commitBase(Project wire) {
        if (wire.repo() == null || wire.repo().url() == null) {
            return null;
        }
        Matcher m = GITHUB.matcher(wire.repo().url());
        return m.matches() ? "https://github.com/" + m.group(1) + "/" + m.group(2) + "/commit/" : null;
    }

    private static String commitUrl(String base, String sha) {
        return base == null || sha == null || !SHA.matcher(sha).matches() ? null : base + sha;
    }

    static ApiError badFilter(String what, String value, java.util.Collection<String> allowed) {
        return ApiError.badRequest("invalid " + what + " '" + value + "': use one of " + String.join(", ", allowed));
    }
}
