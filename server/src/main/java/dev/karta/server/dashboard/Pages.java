package dev.karta.server.dashboard;

import dev.karta.api.ApiKey;
import dev.karta.api.AuditEvent;
import dev.karta.api.Deploy;
import dev.karta.api.RollbackPreview;
import dev.karta.api.Session;
import dev.karta.api.Usage;
import dev.karta.server.usage.UsageStore;
import java.time.Instant;
import java.util.List;

/** What each dashboard page shows: the models its template ({@code src/main/jte}) renders. */
public final class Pages {
    private Pages() {
    }

    /** Who is signed in, as every page's header shows it, with the CSRF token its forms carry. */
    public record Viewer(String orgName, String keyId, String keyName, String scope, boolean admin,
                         boolean orgWide, String csrfToken) {
        /** Whether the keys and audit pages are theirs to see: an admin key of the whole org. */
        public boolean seesOrg() {
            return admin && orgWide;
        }
    }

    /** The frame around a page: its title, the navigation entry it belongs to, the viewer. */
    public record Frame(String title, String nav, Viewer viewer) {
    }

    /** The sign-in form; {@code next}: the page to go to afterwards. */
    public record SignIn(Frame frame, String csrfToken, String next, String error) {
    }

    public record Problem(Frame frame, String message) {
    }

    public record ProjectRow(String name, String activeVersion, boolean pinned, String pinnedVersion,
                             Deploy lastDeploy, long liveSessions) {
    }

    public record Projects(Frame frame, String query, List<ProjectRow> rows, int total) {
    }

    /**
     * A line of a project's timeline: a release, or a deploy that failed before it made one
     * ({@code version} null). {@code rollbackable}: an admin may roll back to it from here.
     */
    public record TimelineRow(String version, String status, String commitSha, String commitUrl, String source,
                              String actor, Instant createdAt, String buildTime, String deployId,
                              boolean rollbackable, String unavailableReason, String error) {
    }

    /**
     * A log view's filters, source (null: all) and window (an age such as {@code 1h}), with the
     * choices of each, and the URL of its live stream.
     */
    public record LogView(String source, String window, String streamUrl, List<String> sources,
                          List<String> windows) {
    }

    public record Project(Frame frame, String name, String url, String gitUrl, String activeVersion,
                          String pinnedVersion, String pinnedBy, Instant pinnedAt, Deploy currentDeploy,
                          List<TimelineRow> timeline, LogView logs, List<Session> sessions, long liveSessions,
                          Usage usage, List<UsageStore.Day> days) {
    }

    public record DeployPage(Frame frame, String project, Deploy deploy, String buildTime) {
    }

    public record Rollback(Frame frame, String project, RollbackPreview preview) {
    }

    /** A key just made: its secret, shown on this one page and never again. */
    public record NewKey(ApiKey key, String secret) {
    }

    public record Keys(Frame frame, List<ApiKey> keys, NewKey created, String error, List<String> projects) {
    }

    public record Audit(Frame frame, List<AuditEvent> events, Long nextBefore, boolean first) {
    }
}
