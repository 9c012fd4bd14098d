package dev.karta.server.http;

import java.time.Instant;
import java.util.Objects;

/**
 * The caller behind a validated key: its org and the key's identity and scope, its expiry (null:
 * never), and the project it is restricted to (a null {@code projectId}: the whole org).
 * {@code projectName} is that project's name, or null once the project is gone: such a key is
 * restricted to nothing.
 */
public record Principal(String orgId, String orgName, String keyId, String keyName, Scope scope,
                        String projectId, String projectName, Instant expiresAt) {
    public Principal {
        Objects.requireNonNull(orgId, "orgId");
        Objects.requireNonNull(keyId, "keyId");
        Objects.requireNonNull(scope, "scope");
    }

    /** An org-wide key that never expires. */
    public Principal(String orgId, String orgName, String keyId, String keyName, Scope scope) {
        this(orgId, orgName, keyId, keyName, scope, null, null, null);
    }

    /** Whether the key is restricted to one project. */
    public boolean isRestricted() {
        return projectId != null;
    }

    /** Whether the key may see and touch the project named {@code name} (of its org). */
    public boolean mayReach(String name) {
        return projectId == null || (projectName != null && projectName.equals(name));
    }

    /**
     * A 404, the same as for a project of another org, unless the key may reach project
     * {@code name}: a restricted key cannot even learn whether other projects exist.
     */
    public void requireProject(String name) {
        if (!mayReach(name)) {
            throw ApiError.notFound("project", name);
        }
    }

    /** A 403 for a restricted key: the org-wide resources (keys, audit log, ...) are not its to use. */
    public void requireOrgWide() {
        if (isRestricted()) {
            throw ApiError.forbidden(restrictedTo() + ": org-wide resources need a key of the whole org");
        }
    }

    /** A 403 when a restricted key asks to create project {@code name}: it may only have its own. */
    public void requireMayCreate(String name) {
        if (!mayReach(name)) {
            throw ApiError.forbidden(restrictedTo() + ": it cannot create project " + name);
        }
    }

    private String restrictedTo() {
        return projectName == null
                ? "key " + keyId + " is restricted to a project that no longer exists"
                : "this key is restricted to project " + projectName;
    }
}
