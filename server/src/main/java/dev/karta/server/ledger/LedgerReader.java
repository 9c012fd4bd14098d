package dev.karta.server.ledger;

import dev.karta.api.LedgerVerification;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.io.Writer;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks an org's chains, page by page ({@link Chains#PAGE} rows per query, each page on a
 * connection of its own), to verify them or to write them out: first the org's audit events in id
 * order, then the releases of each of its projects (by name) in number order.
 */
public final class LedgerReader {
    private final Database db;

    public LedgerReader(Database db) {
        this.db = db;
    }

    /** Checks every entry of the org's chains and names the first that does not verify. */
    public LedgerVerification verify(String orgId) {
        long checked = 0;
        Walk audit = new Walk(Chains.Table.AUDIT_EVENTS, orgId, null);
        for (Chains.Row row = audit.next(); row != null; row = audit.next()) {
            String reason = audit.check(row);
            if (reason != null) {
                return new LedgerVerification(false, checked, new LedgerVerification.Break(Ledger.AUDIT_EVENT,
                        String.valueOf(row.fields().get("id")), null, null, reason));
            }
            checked++;
        }
        for (Project project : projects(orgId)) {
            Walk releases = new Walk(Chains.Table.RELEASES, project.id(), null);
            for (Chains.Row row = releases.next(); row != null; row = releases.next()) {
                String reason = releases.check(row);
                if (reason != null) {
                    return new LedgerVerification(false, checked, new LedgerVerification.Break(Ledger.RELEASE,
                            String.valueOf(row.fields().get("id")), project.name(), "v" + row.position(), reason));
                }
                checked++;
            }
        }
        return new LedgerVerification(true, checked, null);
    }

    /**
     * Writes the org's entries created at or after {@code since} (all with null) as JSON Lines:
     * each line the canonical entry and its stored {@code hash}, in {@link CanonicalJson}.
     * Returns how many lines it wrote.
     */
    public long export(String orgId, Instant since, Writer out) throws IOException {
        Long sinceMillis = since == null ? null : since.toEpochMilli();
        long lines = write(new Walk(Chains.Table.AUDIT_EVENTS, orgId, sinceMillis), out);
        for (Project project : projects(orgId)) {
            lines += write(new Walk(Chains.Table.RELEASES, project.id(), sinceMillis), out);
        }
        return lines;
    }

    private static long write(Walk walk, Writer out) throws IOException {
        long lines = 0;
        for (Chains.Row row = walk.next(); row != null; row = walk.next()) {
            Map<String, Object> line = new LinkedHashMap<>(Ledger.entry(walk.table.kind, row.fields(), row.prevHash()));
            line.put("hash", row.hash());
            out.write(CanonicalJson.write(line));
            out.write('\n');
            lines++;
        }
        return lines;
    }

    private record Project(String id, String name) {
    }

    private List<Project> projects(String orgId) {
        return db.withHandle(h -> h.createQuery("SELECT id, name FROM projects WHERE org_id = :org ORDER BY name")
                .bind("org", orgId)
                .map((rs, ctx) -> new Project(rs.getString("id"), rs.getString("name")))
                .list());
    }

    /** One chain, read a page at a time, remembering the hash the next entry must follow. */
    private final class Walk {
        private final Chains.Table table;
        private final String chainId;
        private final Long sinceMillis;
        private List<Chains.Row> page = List.of();
        private int index;
        private long after = Long.MIN_VALUE;
        private boolean last;
        private String expectedPrev = Ledger.GENESIS;

        Walk(Chains.Table table, String chainId, Long sinceMillis) {
            this.table = table;
            this.chainId = chainId;
            this.sinceMillis = sinceMillis;
        }

        Chains.Row next() {
            if (index == page.size()) {
                if (last) {
                    return null;
                }
                page = db.withHandle(h -> Chains.page(h, table, chainId, after, sinceMillis));
                index = 0;
                last = page.size() < Chains.PAGE;
                if (page.isEmpty()) {
                    return null;
                }
            }
            Chains.Row row = page.get(index++);
            after = row.position();
            return row;
        }

        /** Why {@code row} breaks the chain, or null when it follows the previous entry and its hash holds. */
        String check(Chains.Row row) {
            if (row.hash() == null) {
                return "it has no hash: it was written around Karta, not appended to the chain";
            }
            String computed = Ledger.hash(Ledger.entry(table.kind, row.fields(), row.prevHash()));
            if (!computed.equals(row.hash())) {
                return "its contents do not match its hash: it was changed after it was written";
            }
            if (!expectedPrev.equals(row.prevHash())) {
                return expectedPrev.equals(Ledger.GENESIS)
                        ? "its prev_hash names an entry that is not there: the entries before it were removed"
                        : "its prev_hash is not the hash of the entry before it: an entry was removed, inserted or "
                                + "reordered";
            }
            expectedPrev = row.hash();
            return null;
        }
    }
}
