package dev.karta.server.migration;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.migration.Schema.Column;
import dev.karta.server.migration.Schema.Kind;
import dev.karta.server.migration.Schema.Table;
import dev.karta.server.store.Dialect;
import dev.karta.server.store.Digests;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Rows as portable lines: each row is one JSON array of its values in a given column order
 * (integers as numbers, text as strings, bytes in base64, null as null), and rows come in the
 * order of the primary key compared byte by byte ({@code COLLATE "C"} on PostgreSQL, SQLite's
 * default), so the same rows give the same lines, and the same {@link Digest}, in either dialect.
 */
final class Rows {
    private static final JsonFactory JSON = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final int BATCH = 500;

    private Rows() {
    }

    /** sha256 over every line and its line feed, with the count of rows and bytes. */
    static final class Digest {
        private final MessageDigest sha = Digests.sha256();
        private long rows;
        private long bytes;

        void add(String line) {
            byte[] utf8 = (line + "\n").getBytes(StandardCharsets.UTF_8);
            sha.update(utf8);
            rows++;
            bytes += utf8.length;
        }

        long rows() {
            return rows;
        }

        long bytes() {
            return bytes;
        }

        String value() {
            return "sha256:" + Digests.hex(sha.digest());
        }
    }

    /** Receives one line at a time. */
    @FunctionalInterface
    interface LineSink {
        void accept(String line) throws IOException, SQLException;
    }

    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** Reads every row of {@code table} as lines of {@code columns}, in primary key order. */
    static void read(Connection connection, Dialect dialect, Table table, List<String> columns, LineSink sink)
            throws SQLException, IOException {
        String order = table.primaryKey().stream()
                .map(name -> quote(name) + (dialect == Dialect.POSTGRES && table.column(name).kind() == Kind.TEXT
                        ? " COLLATE \"C\"" : ""))
                .collect(Collectors.joining(", "));
        String sql = "SELECT " + columns.stream().map(Rows::quote).collect(Collectors.joining(", ")) + " FROM "
                + quote(table.name()) + " ORDER BY " + order;
        List<Column> kinds = columns.stream().map(table::column).toList();
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            // PostgreSQL streams rows (a cursor) only inside a transaction with a fetch size: every
            // caller reads in one.
            statement.setFetchSize(BATCH);
            try (ResultSet rs = statement.executeQuery()) {
                while (rs.next()) {
                    sink.accept(line(rs, kinds));
                }
            }
        }
    }

    /** The digest of every row of {@code table}, read as lines of {@code columns}. */
    static Digest digest(Connection connection, Dialect dialect, Table table, List<String> columns)
            throws SQLException {
        Digest digest = new Digest();
        try {
            read(connection, dialect, table, columns, digest::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return digest;
    }

    private static String line(ResultSet rs, List<Column> columns) throws SQLException {
        StringWriter out = new StringWriter();
        try (JsonGenerator json = JSON.createGenerator(out)) {
            json.writeStartArray();
            for (int i = 0; i < columns.size(); i++) {
                int index = i + 1;
                switch (columns.get(i).kind()) {
                    case INTEGER -> {
                        long value = rs.getLong(index);
                        if (rs.wasNull()) {
                            json.writeNull();
                        } else {
                            json.writeNumber(value);
                        }
                    }
                    case REAL -> {
                        double value = rs.getDouble(index);
                        if (rs.wasNull()) {
                            json.writeNull();
                        } else {
                            json.writeNumber(value);
                        }
                    }
                    case BOOLEAN -> {
                        boolean value = rs.getBoolean(index);
                        if (rs.wasNull()) {
                            json.writeNull();
                        } else {
                            json.writeBoolean(value);
                        }
                    }
                    case BYTES -> {
                        byte[] value = rs.getBytes(index);
                        if (value == null) {
                            json.writeNull();
                        } else {
                            json.writeString(Base64.getEncoder().encodeToString(value));
                        }
                    }
                    case TEXT -> {
                        String value = rs.getString(index);
                        if (value == null) {
                            json.writeNull();
                        } else {
                            json.writeString(value);
                        }
                    }
                    default -> throw new IllegalStateException();
                }
            }
            json.writeEndArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /**
     * Inserts lines into one table of a transaction, in batches, skipping rows whose key is already
     * there ({@code ON CONFLICT DO NOTHING}); deferred columns are inserted as null and set by
     * {@link #applyDeferred} once every table is in.
     */
    static final class Inserter implements AutoCloseable {
        private final Connection connection;
        private final Table table;
        private final List<Column> columns;
        private final List<Integer> keyIndexes = new ArrayList<>();
        private final List<Integer> deferredIndexes = new ArrayList<>();
        private final List<JsonNode> deferredRows = new ArrayList<>();
        private final PreparedStatement insert;
        private int pending;

        Inserter(Connection connection, Table table, List<String> columnNames) throws SQLException {
            this.connection = connection;
            this.table = table;
            this.columns = columnNames.stream().map(table::column).toList();
            for (String key : table.primaryKey()) {
                keyIndexes.add(columnNames.indexOf(key));
            }
            for (int i = 0; i < columnNames.size(); i++) {
                if (table.deferred().contains(columnNames.get(i))) {
                    deferredIndexes.add(i);
                }
            }
            this.insert = connection.prepareStatement("INSERT INTO " + quote(table.name()) + " ("
                    + columnNames.stream().map(Rows::quote).collect(Collectors.joining(", ")) + ") VALUES ("
                    + columnNames.stream().map(c -> "?").collect(Collectors.joining(", "))
                    + ") ON CONFLICT DO NOTHING");
        }

        void add(String line) throws IOException, SQLException {
            JsonNode row = MAPPER.readTree(line);
            if (row == null || !row.isArray() || row.size() != columns.size()) {
                throw new IOException("a row of table " + table.name() + " does not have " + columns.size()
                        + " values");
            }
            boolean hasDeferred = false;
            for (int i = 0; i < columns.size(); i++) {
                boolean deferred = deferredIndexes.contains(i);
                bind(insert, i + 1, columns.get(i).kind(), deferred ? null : row.get(i));
                hasDeferred |= deferred && !row.get(i).isNull();
            }
            if (hasDeferred) {
                deferredRows.add(row);
            }
            insert.addBatch();
            if (++pending == BATCH) {
                flush();
            }
        }

        void flush() throws SQLException {
            if (pending > 0) {
                insert.executeBatch();
                pending = 0;
            }
        }

        /** Sets the deferred columns of the rows added. */
        void applyDeferred() throws SQLException {
            if (deferredRows.isEmpty()) {
                return;
            }
            String sql = "UPDATE " + quote(table.name()) + " SET "
                    + deferredIndexes.stream().map(i -> quote(columns.get(i).name()) + " = ?")
                    .collect(Collectors.joining(", "))
                    + " WHERE " + keyIndexes.stream().map(i -> quote(columns.get(i).name()) + " = ?")
                    .collect(Collectors.joining(" AND "));
            try (PreparedStatement update = connection.prepareStatement(sql)) {
                for (JsonNode row : deferredRows) {
                    int index = 1;
                    for (int i : deferredIndexes) {
                        bind(update, index++, columns.get(i).kind(), row.get(i));
                    }
                    for (int i : keyIndexes) {
                        bind(update, index++, columns.get(i).kind(), row.get(i));
                    }
                    update.addBatch();
                }
                update.executeBatch();
            }
        }

        @Override
        public void close() throws SQLException {
            insert.close();
        }
    }

    private static void bind(PreparedStatement statement, int index, Kind kind, JsonNode value)
            throws SQLException {
        if (value == null || value.isNull()) {
            statement.setNull(index, switch (kind) {
                case INTEGER -> Types.BIGINT;
                case REAL -> Types.DOUBLE;
                case BOOLEAN -> Types.BOOLEAN;
                case BYTES -> Types.BINARY;
                case TEXT -> Types.VARCHAR;
            });
            return;
        }
        switch (kind) {
            case INTEGER -> statement.setLong(index, value.asLong());
            case REAL -> statement.setDouble(index, value.asDouble());
            case BOOLEAN -> statement.setBoolean(index, value.asBoolean());
            case BYTES -> statement.setBytes(index, Base64.getDecoder().decode(value.asText()));
            case TEXT -> statement.setString(index, value.isTextual() ? value.asText() : value.toString());
            default -> throw new IllegalStateException();
        }
    }

    /**
     * PostgreSQL only: moves each serial column's sequence past the largest value now in the table,
     * so that rows the server adds after an import do not collide with imported ones. (SQLite's
     * AUTOINCREMENT follows explicit values by itself.)
     */
    static void advanceSequences(Connection connection, Table table) throws SQLException {
        for (Column column : table.columns()) {
            if (!column.serial()) {
                continue;
            }
            String sql = "SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(" + quote(column.name())
                    + ") FROM " + quote(table.name()) + "), 0) + 1, false)";
            try (PreparedStatement statement = connection.prepareStatement(sql)) {
                statement.setString(1, quote(table.name()));
                statement.setString(2, column.name());
                statement.executeQuery().close();
            }
        }
    }
}
