package dev.karta.server.migration;

import dev.karta.server.migration.Manifest.TableEntry;
import dev.karta.server.migration.Schema.Table;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * Puts the rows of an export (or of another database) into a target database, in one
 * transaction: each table in foreign-key order, rows whose key is already there skipped, deferred
 * columns set at the end, PostgreSQL sequences moved past the largest id; then every table's
 * digest is computed again inside the transaction and compared with the expected one, and only
 * if all match does it commit. So an import that fails or is cut off leaves the target as it was,
 * and one that ran before finds every row there and changes nothing.
 */
final class TableCopy {

    /** Where the rows of one table come from, as portable lines. */
    @FunctionalInterface
    interface RowSource {
        void lines(TableEntry table, Rows.LineSink sink) throws IOException, SQLException;
    }

    private final Progress progress;

    TableCopy(Progress progress) {
        this.progress = progress;
    }

    /**
     * Checks that {@code target} has the schema version the rows belong to, and that every table
     * with rows exists there with the same columns; tables only one dialect has and that hold no
     * rows, and {@linkplain Schema#STORAGE_TABLES storage tables}, are dropped from what is compared.
     */
    List<TableEntry> check(Database target, String schemaVersion, List<TableEntry> tables) throws SQLException {
        Schema schema = schema(target);
        if (!schema.version().equals(schemaVersion)) {
            throw new MigrationFailed("the rows are at schema version " + schemaVersion + " but the target database "
                    + "is at version " + schema.version() + ": export and import with the same version of karta");
        }
        List<TableEntry> compared = new ArrayList<>();
        for (TableEntry entry : tables) {
            if (Schema.isStorage(entry.name())) {
                // Written by an export of an earlier build: the storage section carries the same bytes.
                progress.say("table %s: a storage table; its %d rows are left out (its content travels as "
                        + "release files and repositories)", entry.name(), entry.rows());
                continue;
            }
            Table table = schema.table(entry.name());
            if (table == null) {
                // PostgreSQL keeps helper tables of its own (log_heads: a row to lock per project's log).
                progress.say("table %s: not in the target's schema; its %d rows (a helper of the source's "
                        + "database) are left out", entry.name(), entry.rows());
                continue;
            }
            if (!new HashSet<>(table.columnNames()).equals(new HashSet<>(entry.columns()))) {
                throw new MigrationFailed("table " + entry.name() + " has columns " + entry.columns()
                        + " in the source but " + table.columnNames() + " in the target");
            }
            compared.add(entry);
        }
        return compared;
    }

    /** Whether every table of {@code expected} already holds exactly those rows in {@code target}. */
    String firstDifference(Database target, List<TableEntry> expected) throws SQLException {
        Schema schema = schema(target);
        return target.inTransaction(h -> {
            for (TableEntry entry : expected) {
                Rows.Digest digest = Rows.digest(h.getConnection(), schema.dialect(), schema.table(entry.name()),
                        entry.columns());
                if (!digest.value().equals(entry.digest())) {
                    return difference(entry, digest);
                }
            }
            return null;
        });
    }

    private static String difference(TableEntry entry, Rows.Digest digest) {
        return "table " + entry.name() + " differs: " + digest.rows() + " rows with digest " + digest.value()
                + ", expected " + entry.rows() + " rows with digest " + entry.digest();
    }

    /** Copies the rows in one transaction, verified before it commits. Returns the rows written. */
    long copy(Database target, List<TableEntry> expected, RowSource source) throws SQLException {
        Schema schema = schema(target);
        Map<String, TableEntry> byName = new java.util.HashMap<>();
        expected.forEach(e -> byName.put(e.name(), e));
        return target.inTransaction(h -> {
            Connection connection = h.getConnection();
            List<Rows.Inserter> inserters = new ArrayList<>();
            long written = 0;
            try {
                for (Table table : schema.tables()) {
                    TableEntry entry = byName.get(table.name());
                    if (entry == null) {
                        continue;
                    }
                    Rows.Digest present = Rows.digest(connection, schema.dialect(), table, entry.columns());
                    if (present.value().equals(entry.digest())) {
                        progress.say("table %s: %d rows already there", table.name(), entry.rows());
                        continue;
                    }
                    Rows.Inserter inserter = new Rows.Inserter(connection, table, entry.columns());
                    inserters.add(inserter);
                    try {
                        source.lines(entry, inserter::add);
                        inserter.flush();
                    } catch (SQLException e) {
                        throw new MigrationFailed("table " + table.name() + " could not take the rows (nothing was "
                                + "committed; is the target database empty?): " + e.getMessage());
                    }
                    if (table.deferred().isEmpty()) {
                        // Checked at once: rows skipped because the target held others with the same
                        // key or name would otherwise surface later as a foreign key error elsewhere.
                        verify(connection, schema, entry);
                    }
                    written += entry.rows();
                    progress.say("table %s: %d rows (%s)", table.name(), entry.rows(), Progress.bytes(entry.bytes()));
                }
                for (Rows.Inserter inserter : inserters) {
                    inserter.applyDeferred();
                }
                if (schema.dialect() == Dialect.POSTGRES) {
                    for (Table table : schema.tables()) {
                        Rows.advanceSequences(connection, table);
                    }
                }
                for (TableEntry entry : expected) {
                    verify(connection, schema, entry);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                for (Rows.Inserter inserter : inserters) {
                    inserter.close();
                }
            }
            return written;
        });
    }

    private static void verify(Connection connection, Schema schema, TableEntry entry) throws SQLException {
        Rows.Digest digest = Rows.digest(connection, schema.dialect(), schema.table(entry.name()), entry.columns());
        if (!digest.value().equals(entry.digest())) {
            throw new MigrationFailed(difference(entry, digest) + " after the import (nothing was committed; is "
                    + "the target database empty? A server started on it creates an org of its own: import first)");
        }
    }

    static Schema schema(Database db) throws SQLException {
        return db.withHandle(h -> Schema.read(h.getConnection(), db.dialect()));
    }
}
