package dev.karta.server.deploys;

import dev.karta.server.http.ApiError;
import dev.karta.server.projects.ProjectRecord;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Reads deploys of a project; a deploy of another project (or org) is not found. */
public final class Deploys {
    private final DeployStore store;

    public Deploys(DeployStore store) {
        this.store = store;
    }

    public List<DeployRecord> list(ProjectRecord project, int limit) {
        return store.ofProject(project.id(), limit);
    }

    /** Each project's newest production deploy (previews left out), for an org: project id → deploy. */
    public Map<String, DeployRecord> newestByProject(String orgId) {
        return store.newestOfOrg(orgId).stream().collect(Collectors.toMap(DeployRecord::projectId, d -> d));
    }

    public DeployRecord get(ProjectRecord project, String id) {
        return store.byId(id).filter(d -> d.projectId().equals(project.id()))
                .orElseThrow(() -> ApiError.notFound("deploy", id));
    }

    /** Re-reads a deploy (for followers waiting for it to end). */
    public DeployRecord refresh(DeployRecord deploy) {
        return store.byId(deploy.id()).orElse(deploy);
    }
}
