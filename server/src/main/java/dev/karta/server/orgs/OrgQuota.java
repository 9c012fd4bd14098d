package dev.karta.server.orgs;

import org.jdbi.v3.core.Handle;

/**
 * The per-org limits (projects, live sessions, running turns, queued deploys) are checked in the
 * transaction that creates what they count, after {@link #lock}: two requests of one org cannot
 * both count 99 and both insert the hundredth. The invariant lives in the database, so it holds
 * across replicas too.
 */
public final class OrgQuota {

    private OrgQuota() {
    }

    /**
     * Serialises the quota checks of one org until the transaction ends. A no-op UPDATE locks the
     * org's row on PostgreSQL and takes the write lock on SQLite (whose single writer serialises
     * the rest), with the same SQL.
     */
    public static void lock(Handle h, String orgId) {
        h.execute("UPDATE orgs SET id = id WHERE id = ?", orgId);
    }
}
