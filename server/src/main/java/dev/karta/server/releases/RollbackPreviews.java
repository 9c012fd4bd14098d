package dev.karta.server.releases;

import dev.karta.api.RollbackPreview;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectRoutes;
import java.util.Map;

/**
 * What a rollback would do, read without changing anything (no audit event, no log entry): the
 * active and target releases, whether the target can go live, the live sessions that stay on the
 * active one, and the diff between them. The API's dry run and the dashboard's confirm dialog.
 */
public final class RollbackPreviews {
    private final Releases releases;
    private final ReleaseDiffs diffs;
    private final ProjectRoutes.LiveSessions liveSessions;

    public RollbackPreviews(Releases releases, ReleaseDiffs diffs, ProjectRoutes.LiveSessions liveSessions) {
        this.releases = releases;
        this.diffs = diffs;
        this.liveSessions = liveSessions;
    }

    public RollbackPreview preview(ProjectRecord project, String to, boolean pin) {
        ReleaseRecord target = releases.get(project, to);
        ReleaseRecord active = project.currentNumber() == null ? null
                : releases.get(project, "v" + project.currentNumber());
        String reason = active != null && active.id().equals(target.id()) ? null : releases.unavailableReason(target);
        long staying = active == null || active.id().equals(target.id()) ? 0
                : liveSessions.byRelease(project.orgId(), project.id()).getOrDefault(project.id(), Map.of())
                        .getOrDefault(active.number(), 0L);
        return new RollbackPreview(project.name(), true, active == null ? null : active.version(), target.version(),
                pin, reason == null, reason, staying, diffs.diff(project, active, target));
    }
}
