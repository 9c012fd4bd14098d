package dev.karta.server.ledger;

import dev.karta.server.store.Dialect;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * What the ledger hashes, and how. An entry is a flat object: {@code kind} ({@value #AUDIT_EVENT}
 * or {@value #RELEASE}), the {@linkplain #AUDIT_EVENT_FIELDS audit event} or
 * {@linkplain #RELEASE_FIELDS release} fields, and {@code prev_hash}, the hash of the previous entry
 * of its chain ({@link #GENESIS} for the first). Its hash is {@code "sha256:"} and the lower-case
 * hex SHA-256 of its {@link CanonicalJson}. Audit events are chained per org (in id order),
 * releases per project (in number order). Times are RFC 3339 UTC text with milliseconds.
 *
 * <p>The two field lists are the whole definition: a field added to one must be added, under the
 * same name, to the map its writer builds ({@code AuditLog}, {@code ReleaseStore}) and, when its
 * column is named differently, to {@link #COLUMNS}. Changing a list changes the hash of every row
 * chained before, so it goes with a migration that reseals or a new {@code kind}.
 */
public final class Ledger {
    public static final String AUDIT_EVENT = "audit_event";
    public static final String RELEASE = "release";
    /** The {@code prev_hash} of the first entry of a chain: not null, so the no-fork unique index holds for it. */
    public static final String GENESIS = "sha256:" + "0".repeat(64);

    /** The hashed fields of an audit event, besides {@code kind} and {@code prev_hash}. */
    public static final List<String> AUDIT_EVENT_FIELDS = List.of(
            "id", "org_id", "actor_key_id", "action", "resource", "created_at", "request_id", "remote_ip",
            "release_hash");

    /**
     * The hashed fields of a release, besides {@code kind} and {@code prev_hash}. What changes
     * after insert (activation and deactivation times, {@code pruned_at}) is not hashed: each
     * activation and rollback is an audit event of the org's chain instead.
     */
    public static final List<String> RELEASE_FIELDS = List.of(
            "id", "project_id", "number", "commit_sha", "harness", "build_kind", "image_ref", "content_digest",
            "source", "deploy_id", "created_at", "trigger", "actor_key_id", "idempotency_key", "config_digest",
            "description");

    /** Fields whose column has another name ({@code trigger} is an SQL keyword). */
    static final Map<String, String> COLUMNS = Map.of("trigger", "triggered_by");

    /** Fields stored as epoch milliseconds and hashed as {@link #time} text. */
    private static final Set<String> TIMES = Set.of("created_at");

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);
    /** Distinguishes the audit chains' advisory locks from every other advisory lock. */
    private static final int AUDIT_LOCK_CLASS = 0x4b617564;

    private Ledger() {
    }

    /** The canonical entry: {@code kind}, exactly the fields of its list, and {@code prevHash}. */
    public static Map<String, Object> entry(String kind, Map<String, Object> fields, String prevHash) {
        List<String> names = fieldsOf(kind);
        if (!fields.keySet().equals(Set.copyOf(names))) {
            throw new IllegalArgumentException("a " + kind + " entry has fields " + names + ", not " + fields.keySet());
        }
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("kind", kind);
        for (String name : names) {
            entry.put(name, fields.get(name));
        }
        entry.put("prev_hash", prevHash);
        return entry;
    }

    /** The hash of a canonical entry: {@code sha256:} and 64 lower-case hex digits. */
    public static String hash(Map<String, Object> entry) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(CanonicalJson.bytes(entry));
            return "sha256:" + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A time as the ledger writes it: RFC 3339, UTC, always three fraction digits. */
    public static String time(long epochMillis) {
        return TIME.format(Instant.ofEpochMilli(epochMillis));
    }

    static List<String> fieldsOf(String kind) {
        return switch (kind) {
            case AUDIT_EVENT -> AUDIT_EVENT_FIELDS;
            case RELEASE -> RELEASE_FIELDS;
            default -> throw new IllegalArgumentException("no ledger kind '" + kind + "'");
        };
    }

    /** The hashed fields of the row {@code rs} is on, read from their columns. */
    static Map<String, Object> fieldsOf(String kind, ResultSet rs) throws SQLException {
        Map<String, Object> fields = new LinkedHashMap<>();
        for (String name : fieldsOf(kind)) {
            String column = COLUMNS.getOrDefault(name, name);
            Object value;
            if (TIMES.contains(name)) {
                long millis = rs.getLong(column);
                value = rs.wasNull() ? null : time(millis);
            } else {
                value = rs.getObject(column);
                if (value instanceof Number number) {
                    value = number.longValue();
                }
            }
            fields.put(name, value);
        }
        return fields;
    }

    /**
     * Serializes the appends to the audit chain of {@code orgId} until the transaction ends. SQLite
     * needs nothing: its transactions begin IMMEDIATE, one writer at a time. PostgreSQL takes a
     * transaction-scoped advisory lock; appending is the last thing a transaction does, so this
     * lock is taken after any row lock it holds.
     */
    public static void lockAuditChain(Handle h, Dialect dialect, String orgId) {
        if (dialect == Dialect.POSTGRES) {
            h.select("SELECT 1 FROM (SELECT pg_advisory_xact_lock(?, hashtext(?))) locked", AUDIT_LOCK_CLASS, orgId)
                    .mapTo(Integer.class).one();
        }
    }
}
