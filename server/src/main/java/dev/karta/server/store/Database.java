package dev.karta.server.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.HandleCallback;
import org.jdbi.v3.core.Jdbi;

/**
 * The pool, migrated schema and transactions of one database. Transactions are callbacks: they
 * commit when the callback returns and roll back when it throws. On SQLite every transaction
 * begins IMMEDIATE, so a read-then-write transaction takes the write lock up front and waits
 * (busy timeout) instead of failing halfway.
 */
public final class Database implements AutoCloseable {
    private final Dialect dialect;
    private final HikariDataSource pool;
    private final Jdbi jdbi;

    private Database(Dialect dialect, HikariDataSource pool) {
        this.dialect = dialect;
        this.pool = pool;
        this.jdbi = Jdbi.create(pool);
    }

    /** Opens the pool and brings the schema up to the newest migration. */
    public static Database open(String jdbcUrl) {
        Dialect dialect = Dialect.of(jdbcUrl);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(dialect == Dialect.SQLITE ? withSqlitePragmas(jdbcUrl) : jdbcUrl);
        config.setPoolName("karta-db");
        config.setMaximumPoolSize(dialect == Dialect.SQLITE ? 8 : 16);
        config.setConnectionTimeout(10_000);
        HikariDataSource pool = new HikariDataSource(config);
        try {
            Flyway.configure()
                    .dataSource(pool)
                    .locations("classpath:" + dialect.migrations())
                    .load()
                    .migrate();
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        return new Database(dialect, pool);
    }

    private static String withSqlitePragmas(String url) {
        String[] pragmas = {"journal_mode=WAL", "busy_timeout=10000", "foreign_keys=true",
                "transaction_mode=IMMEDIATE", "synchronous=NORMAL"};
        StringBuilder out = new StringBuilder(url);
        for (String pragma : pragmas) {
            String key = pragma.substring(0, pragma.indexOf('=') + 1);
            if (!url.contains(key)) {
                out.append(out.indexOf("?") < 0 ? '?' : '&').append(pragma);
            }
        }
        return out.toString();
    }

    public Dialect dialect() {
        return dialect;
    }

    /** Runs {@code work} in one transaction: commit on return, roll back on throw. */
    public <R, X extends Exception> R inTransaction(HandleCallback<R, X> work) throws X {
        return jdbi.inTransaction(work);
    }

    /** Runs {@code work} on a connection in auto-commit mode: for reads. */
    public <R, X extends Exception> R withHandle(HandleCallback<R, X> work) throws X {
        return jdbi.withHandle(work);
    }

    /** Runs a single statement that needs no transaction around it. */
    public int execute(String sql, Object... args) {
        return jdbi.withHandle(h -> h.execute(sql, args));
    }

    /** Whether {@code e} (or its cause) is a unique-constraint violation, in either dialect. */
    public static boolean isUniqueViolation(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.sql.SQLException sql) {
                String state = sql.getSQLState();
                String message = String.valueOf(sql.getMessage());
                if ("23505".equals(state) || message.contains("UNIQUE constraint failed")
                        || message.contains("SQLITE_CONSTRAINT_PRIMARYKEY")) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public void close() {
        pool.close();
    }
}
