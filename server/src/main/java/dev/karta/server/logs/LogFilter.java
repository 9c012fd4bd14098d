package dev.karta.server.logs;

import dev.karta.api.LogEntry;
import org.jdbi.v3.core.statement.SqlStatement;

/**
 * Which entries of a project a reader wants: one source, one deploy, or both (null means any).
 * The same rule runs in SQL for reads and in memory for entries fanned out to followers.
 */
record LogFilter(LogSource source, String deployId) {
    static final LogFilter ALL = new LogFilter(null, null);

    boolean matches(LogEntry entry) {
        return (source == null || source.wireName().equals(entry.source()))
                && (deployId == null || deployId.equals(entry.deployId()));
    }

    /** The SQL condition, to be appended after a WHERE clause: empty or starting with AND. */
    String sql() {
        return (source == null ? "" : " AND source = :source") + (deployId == null ? "" : " AND deploy_id = :deploy");
    }

    <S extends SqlStatement<S>> S bind(S statement) {
        if (source != null) {
            statement.bind("source", source.wireName());
        }
        if (deployId != null) {
            statement.bind("deploy", deployId);
        }
        return statement;
    }
}
