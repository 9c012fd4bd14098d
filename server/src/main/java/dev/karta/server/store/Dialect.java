package dev.karta.server.store;

import java.util.Locale;

/** The SQL database behind a JDBC URL. Each has its own migration folder. */
public enum Dialect {
    SQLITE("db/sqlite"),
    POSTGRES("db/postgres");

    private final String migrations;

    Dialect(String migrations) {
        this.migrations = migrations;
    }

    /** Classpath folder of this dialect's versioned migrations. */
    public String migrations() {
        return migrations;
    }

    public static Dialect of(String jdbcUrl) {
        String url = jdbcUrl.toLowerCase(Locale.ROOT);
        if (url.startsWith("jdbc:sqlite:")) {
            return SQLITE;
        }
        if (url.startsWith("jdbc:postgresql:")) {
            return POSTGRES;
        }
        throw new IllegalArgumentException(
                "unsupported database URL '" + jdbcUrl + "': use jdbc:sqlite:FILE or jdbc:postgresql://HOST/DB");
    }
}
