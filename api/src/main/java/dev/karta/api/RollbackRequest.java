package dev.karta.api;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * Body of {@code POST /agent_projects/{p}/rollback}: {@code to} is "v3" or "3". {@code pin}
 * (default true) pins the project to that release, so later deploys build but do not go live;
 * {@code dryRun} (default false) only answers what the rollback would change.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RollbackRequest(String to, Boolean pin, Boolean dryRun) {

    public RollbackRequest(String to) {
        this(to, null, null);
    }

    public boolean wantsPin() {
        return pin == null || pin;
    }

    public boolean wantsDryRun() {
        return dryRun != null && dryRun;
    }
}
