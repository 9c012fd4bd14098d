package dev.karta.server.migration;

import dev.karta.server.store.Dialect;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The tables of a database as the JDBC metadata describes them, in an order in which their rows
 * can be inserted: every table after the tables its foreign keys name. A cycle of foreign keys
 * ({@code projects.current_release_id} and {@code releases.project_id}) is broken by a nullable
 * column, which is {@linkplain Table#deferred deferred}: inserted as null and set once every table
 * is in. Migrations' own bookkeeping, SQLite's internal tables and the {@linkplain #STORAGE_TABLES
 * storage tables} are left out.
 */
record Schema(Dialect dialect, String version, List<Table> tables) {

    /** How a column's values are read, written and encoded: the same in both dialects. */
    enum Kind {
        INTEGER, REAL, BOOLEAN, TEXT, BYTES;

        static Kind of(String typeName) {
            String type = typeName == null ? "" : typeName.toUpperCase(Locale.ROOT);
            if (type.contains("INT") || type.contains("SERIAL")) {
                return INTEGER;
            }
            if (type.contains("BOOL")) {
                return BOOLEAN;
            }
            if (type.contains("BLOB") || type.contains("BYTEA") || type.contains("BINARY")) {
                return BYTES;
            }
            if (type.contains("REAL") || type.contains("FLOA") || type.contains("DOUB") || type.contains("NUMERIC")) {
                return REAL;
            }
            return TEXT;
        }
    }

    record Column(String name, Kind kind, boolean nullable, boolean serial) {
    }

    /**
     * One table: its columns (in the database's order), primary key (every column when it has
     * none, so that rows still have one order) and the columns inserted last.
     */
    record Table(String name, List<Column> columns, List<String> primaryKey, Set<String> deferred) {
        Column column(String name) {
            return columns.stream().filter(c -> c.name().equals(name)).findFirst().orElse(null);
        }

        List<String> columnNames() {
            return columns.stream().map(Column::name).toList();
        }
    }

    private static final String MIGRATIONS_TABLE = "flyway_schema_history";

    /**
     * The tables in which {@code --storage database} keeps the bytes of the storage: release
     * archives and trees as content-addressed blobs, git repositories as packs. They are never
     * exported, imported or verified as rows: what they hold travels only through the storage seam
     * ({@code ReleaseFiles}, {@code RepoStore}) and is checked there (sha256 of archives, content
     * digests of trees, refs and objects of repositories). As rows they would carry every file a
     * second time, and an import would compare them with what the target's storage writes into the
     * same tables (nothing when it keeps files in its data dir, blobs and packs split otherwise).
     * No other table references them.
     */
    static final Set<String> STORAGE_TABLES = Set.of("blobs", "blob_chunks", "stored_trees",
            "git_repositories", "git_packs", "git_pack_files", "git_pack_chunks");

    /** Whether {@code name} is one of the {@link #STORAGE_TABLES}. */
    static boolean isStorage(String name) {
        return STORAGE_TABLES.contains(name.toLowerCase(Locale.ROOT));
    }

    static Schema read(Connection connection, Dialect dialect) throws SQLException {
        DatabaseMetaData meta = connection.getMetaData();
        String schema = dialect == Dialect.POSTGRES ? connection.getSchema() : null;
        Map<String, Table> tables = new TreeMap<>();
        Map<String, List<ForeignKey>> foreignKeys = new TreeMap<>();
        for (String name : tableNames(meta, schema)) {
            List<Column> columns = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, schema, name, "%")) {
                while (rs.next()) {
                    String def = rs.getString("COLUMN_DEF");
                    boolean serial = "YES".equalsIgnoreCase(rs.getString("IS_AUTOINCREMENT"))
                            || (def != null && def.startsWith("nextval("));
                    columns.add(new Column(rs.getString("COLUMN_NAME"), Kind.of(rs.getString("TYPE_NAME")),
                            rs.getInt("NULLABLE") != DatabaseMetaData.columnNoNulls, serial));
                }
            }
            Map<Integer, String> keyColumns = new TreeMap<>();
            try (ResultSet rs = meta.getPrimaryKeys(null, schema, name)) {
                while (rs.next()) {
                    keyColumns.put(rs.getInt("KEY_SEQ"), rs.getString("COLUMN_NAME"));
                }
            }
            List<String> primaryKey = keyColumns.isEmpty() ? columns.stream().map(Column::name).toList()
                    : List.copyOf(keyColumns.values());
            List<ForeignKey> keys = new ArrayList<>();
            try (ResultSet rs = meta.getImportedKeys(null, schema, name)) {
                while (rs.next()) {
                    keys.add(new ForeignKey(rs.getString("FKCOLUMN_NAME"), rs.getString("PKTABLE_NAME")));
                }
            }
            tables.put(name, new Table(name, List.copyOf(columns), primaryKey, Set.of()));
            foreignKeys.put(name, keys);
        }
        return new Schema(dialect, version(connection), order(tables, foreignKeys));
    }

    private record ForeignKey(String column, String references) {
    }

    private static List<String> tableNames(DatabaseMetaData meta, String schema) throws SQLException {
        List<String> names = new ArrayList<>();
        try (ResultSet rs = meta.getTables(null, schema, "%", new String[] {"TABLE"})) {
            while (rs.next()) {
                String name = rs.getString("TABLE_NAME");
                if (!name.equalsIgnoreCase(MIGRATIONS_TABLE) && !name.toLowerCase(Locale.ROOT).startsWith("sqlite_")
                        && !isStorage(name)) {
                    names.add(name);
                }
            }
        }
        return names;
    }

    /**
     * Tables with every table they reference first (by name among equals, so the order is the same
     * on every run); a cycle is broken by deferring a nullable column that closes it.
     */
    private static List<Table> order(Map<String, Table> tables, Map<String, List<ForeignKey>> foreignKeys) {
        Map<String, Set<String>> deferred = new TreeMap<>();
        List<Table> ordered = new ArrayList<>();
        Set<String> placed = new LinkedHashSet<>();
        while (placed.size() < tables.size()) {
            String next = null;
            for (String name : tables.keySet()) {
                if (!placed.contains(name) && waitsOnNothing(name, foreignKeys, deferred, placed, tables)) {
                    next = name;
                    break;
                }
            }
            if (next == null) {
                deferOneColumn(tables, foreignKeys, deferred, placed);
                continue;
            }
            placed.add(next);
            Table table = tables.get(next);
            ordered.add(new Table(table.name(), table.columns(), table.primaryKey(),
                    Set.copyOf(deferred.getOrDefault(next, Set.of()))));
        }
        return List.copyOf(ordered);
    }

    private static boolean waitsOnNothing(String name, Map<String, List<ForeignKey>> foreignKeys,
                                          Map<String, Set<String>> deferred, Set<String> placed,
                                          Map<String, Table> tables) {
        for (ForeignKey key : foreignKeys.get(name)) {
            boolean pending = !key.references().equals(name) && tables.containsKey(key.references())
                    && !placed.contains(key.references());
            if (pending && !deferred.getOrDefault(name, Set.of()).contains(key.column())) {
                return false;
            }
        }
        return true;
    }

    private static void deferOneColumn(Map<String, Table> tables, Map<String, List<ForeignKey>> foreignKeys,
                                       Map<String, Set<String>> deferred, Set<String> placed) {
        for (String name : tables.keySet()) {
            if (placed.contains(name)) {
                continue;
            }
            for (ForeignKey key : foreignKeys.get(name)) {
                Column column = tables.get(name).column(key.column());
                if (column != null && column.nullable() && !placed.contains(key.references())
                        && !deferred.getOrDefault(name, Set.of()).contains(key.column())) {
                    deferred.computeIfAbsent(name, n -> new LinkedHashSet<>()).add(key.column());
                    return;
                }
            }
        }
        throw new IllegalStateException("the foreign keys of tables " + tables.keySet() + " form a cycle of "
                + "NOT NULL columns: no order inserts them");
    }

    /** The newest migration applied, as the migrations table spells it ({@code "21"}). */
    private static String version(Connection connection) throws SQLException {
        String newest = null;
        long newestNumber = -1;
        try (var statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT version FROM " + MIGRATIONS_TABLE
                     + " WHERE success = true AND version IS NOT NULL")) {
            while (rs.next()) {
                String version = rs.getString(1);
                long number = Long.parseLong(version.replaceAll("[^0-9].*$", ""));
                if (number > newestNumber) {
                    newestNumber = number;
                    newest = version;
                }
            }
        }
        return newest == null ? "0" : newest;
    }

    Table table(String name) {
        return tables.stream().filter(t -> t.name().equals(name)).findFirst().orElse(null);
    }

    Map<String, Table> byName() {
        Map<String, Table> map = new LinkedHashMap<>();
        tables.forEach(t -> map.put(t.name(), t));
        return map;
    }
}
