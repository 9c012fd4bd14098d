package dev.karta.server.ledger;

import dev.karta.server.store.Database;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SQL of the chains: the head an append follows, the rows of a chain page by page, and the
 * one-time sealing of rows written before the ledger existed. Audit events are chained per org in
 * id order; releases per project in number order.
 */
public final class Chains {
    private static final Logger LOG = LoggerFactory.getLogger(Chains.class);
    /** Rows read per query while walking a chain: a chain of millions never sits in memory. */
    static final int PAGE = 500;

    /** Where the rows of a kind live: table, chain column, order column. */
    enum Table {
        AUDIT_EVENTS(Ledger.AUDIT_EVENT, "audit_events", "org_id", "id"),
        RELEASES(Ledger.RELEASE, "releases", "project_id", "number");

        final String kind;
        final String name;
        final String chain;
        final String order;

        Table(String kind, String name, String chain, String order) {
            this.kind = kind;
            this.name = name;
            this.chain = chain;
            this.order = order;
        }
    }

    /** One stored row of a chain: its position, hashed fields and the two stored hashes. */
    record Row(long position, Map<String, Object> fields, String prevHash, String hash) {
    }

    private Chains() {
    }

    /**
     * The hash the next audit event of {@code orgId} follows, inside the caller's transaction, which
     * must hold the chain's lock ({@link Ledger#lockAuditChain}). Seals the org's events first when
     * none is sealed yet (they predate the ledger and start-up sealing has not run).
     */
    public static String auditHead(Handle h, String orgId) {
        return head(h, Table.AUDIT_EVENTS, orgId);
    }

    /**
     * The hash the next release of {@code projectId} follows, inside the caller's transaction, which
     * must hold the project's row lock. Seals older releases first, like {@link #auditHead}.
     */
    public static String releaseHead(Handle h, String projectId) {
        return head(h, Table.RELEASES, projectId);
    }

    private static String head(Handle h, Table table, String chainId) {
        // The newest sealed row: a row after it with no hash was written around Karta, and
        // verification names it; new rows follow the chain's last sealed row.
        String sql = "SELECT hash FROM " + table.name + " WHERE " + table.chain + " = ? AND hash IS NOT NULL ORDER BY "
                + table.order + " DESC LIMIT 1";
        String head = h.select(sql, chainId).mapTo(String.class).findOne().orElse(null);
        if (head == null && seal(h, table, chainId) > 0) {
            head = h.select(sql, chainId).mapTo(String.class).findOne().orElse(null);
        }
        return head == null ? Ledger.GENESIS : head;
    }

    /**
     * Seals, in one transaction, every chain that has rows written before the ledger existed:
     * those rows get their {@code prev_hash} and {@code hash}, in order. Idempotent: a second run
     * finds nothing to do. Run at start-up, before anything appends.
     */
    public static void sealLegacy(Database db) {
        int sealed = db.inTransaction(h -> {
            int n = 0;
            for (String org : unsealed(h, Table.AUDIT_EVENTS)) {
                Ledger.lockAuditChain(h, db.dialect(), org);
                n += seal(h, Table.AUDIT_EVENTS, org);
            }
            for (String project : unsealed(h, Table.RELEASES)) {
                // The project's row lock, as ProjectStore.lock takes it: appends of releases hold it.
                h.execute("UPDATE projects SET id = id WHERE id = ?", project);
                n += seal(h, Table.RELEASES, project);
            }
            return n;
        });
        if (sealed > 0) {
            LOG.info("ledger: chained {} audit events and releases written before the ledger existed", sealed);
        }
    }

    private static List<String> unsealed(Handle h, Table table) {
        return h.select("SELECT DISTINCT " + table.chain + " FROM " + table.name + " WHERE hash IS NULL ORDER BY "
                + table.chain).mapTo(String.class).list();
    }

    /**
     * Seals the unsealed rows at the start of one chain, up to its first sealed row. A chain whose
     * first row is sealed is left alone: a row without hash further on was inserted around Karta,
     * and verification reports it as the break.
     */
    private static int seal(Handle h, Table table, String chainId) {
        String prev = Ledger.GENESIS;
        long after = Long.MIN_VALUE;
        int sealed = 0;
        while (true) {
            List<Row> page = page(h, table, chainId, after, null);
            for (Row row : page) {
                if (row.hash() != null) {
                    return sealed;
                }
                String hash = Ledger.hash(Ledger.entry(table.kind, row.fields(), prev));
                h.execute("UPDATE " + table.name + " SET prev_hash = ?, hash = ? WHERE id = ?", prev, hash,
                        row.fields().get("id"));
                prev = hash;
                after = row.position();
                sealed++;
            }
            if (page.size() < PAGE) {
                return sealed;
            }
        }
    }

    /**
     * Up to {@link #PAGE} rows of one chain, in order, after position {@code after}; with
     * {@code sinceMillis}, only those created at or after it.
     */
    static List<Row> page(Handle h, Table table, String chainId, long after, Long sinceMillis) {
        List<Row> rows = new ArrayList<>(PAGE);
        var query = h.createQuery("SELECT * FROM " + table.name + " WHERE " + table.chain + " = :chain AND "
                        + table.order + " > :after" + (sinceMillis == null ? "" : " AND created_at >= :since")
                        + " ORDER BY " + table.order + " LIMIT " + PAGE)
                .bind("chain", chainId)
                .bind("after", after);
        if (sinceMillis != null) {
            query.bind("since", sinceMillis.longValue());
        }
        query.map((rs, ctx) -> new Row(rs.getLong(table.order), Ledger.fieldsOf(table.kind, rs),
                        rs.getString("prev_hash"), rs.getString("hash")))
                .forEach(rows::add);
        return rows;
    }
}
