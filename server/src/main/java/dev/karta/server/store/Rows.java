package dev.karta.server.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;

/** Column conversions every store shares: times are stored as epoch milliseconds (BIGINT). */
public final class Rows {
    private Rows() {
    }

    public static Instant instant(ResultSet rs, String column) throws SQLException {
        long millis = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(millis);
    }

    public static Long millis(Instant instant) {
        return instant == null ? null : instant.toEpochMilli();
    }
}
