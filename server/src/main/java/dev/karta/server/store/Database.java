package dev.karta.server.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.HandleCallback;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pool, migrated schema and transactions of one database. Transactions are callbacks: they
 * commit when the callback returns and roll back when it throws. On SQLite every transaction
 * begins IMMEDIATE, so a read-then-write transaction takes the write lock up front and waits
 * instead of failing halfway.
 *
 * <p>SQLite has one writer at a time, and a connection that finds the write lock taken polls for
 * it: SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms between tries, and whoever
 * tries at the right moment wins, so under steady writes (a deploy loop, its log lines) a short
 * transaction waited 3, 8, 18, 33 or 53 ms for a lock that had been free most of that time. So on
 * SQLite the writers of this server queue on one fair lock in the JVM, {@link #writer}, before they
 * touch SQLite's: each gets the write lock as soon as the previous one commits, in arrival order,
 * and the busy handler is only left to wait for other processes (an operator command on the same
 * file). Reads never take it: in WAL mode they run beside the writer.
 *
 * <p>Checkpoints (copying the write-ahead log into the database file, with its fsyncs) run on a
 * background thread every {@link #CHECKPOINT_EVERY}, beside the writers, instead of inside the
 * commit that happens to fill the log (SQLite's default, every 1,000 pages), which made that
 * commit and every writer queued behind it wait for the disk. {@code synchronous=NORMAL} in WAL
 * mode: a commit survives a crash of the server at once, and a power loss once the next
 * checkpoint has synced the log, so the window is about {@link #CHECKPOINT_EVERY}.
 */
public final class Database implements AutoCloseable {
    /** As long as SQLite's busy timeout: how long a write waits for its turn before failing. */
    private static final Duration WRITE_WAIT = Duration.ofSeconds(10);
    private static final Duration CHECKPOINT_EVERY = Duration.ofSeconds(1);
    /**
     * PostgreSQL: how long a request waits for a pool connection before it is answered 503
     * (while the database is down, Hikari keeps trying to reconnect in the background and every
     * caller waits this long). Short, so a load balancer and clients learn of an outage quickly.
     */
    public static final Duration CONNECTION_WAIT = Duration.ofSeconds(3);
    /** The longest a query on an unpooled connection may wait for its answer. */
    static final Duration UNPOOLED_READ_TIMEOUT = Duration.ofSeconds(30);
    /** PostgreSQL: how long Hikari's liveness check of a borrowed connection may take. */
    private static final Duration VALIDATION_WAIT = Duration.ofSeconds(1);
    private static final Logger LOG = LoggerFactory.getLogger(Database.class);

    private final Dialect dialect;
    private final String jdbcUrl;
    private final HikariDataSource pool;
    private final Jdbi jdbi;
    /**
     * SQLite only (null on PostgreSQL, whose row locks let writers of different rows run at once).
     * Held from before BEGIN IMMEDIATE until the connection is back in auto-commit mode:
     * sqlite-jdbc's commit opens the next IMMEDIATE transaction at once, which Jdbi then ends.
     */
    private final ReentrantLock writer;
    /** SQLite only: runs the checkpoints; null on PostgreSQL. */
    private final ScheduledExecutorService checkpointer;

    private Database(Dialect dialect, String jdbcUrl, HikariDataSource pool) {
        this.dialect = dialect;
        this.jdbcUrl = jdbcUrl;
        this.pool = pool;
        this.jdbi = Jdbi.create(pool);
        if (dialect == Dialect.SQLITE) {
            this.writer = new ReentrantLock(true);
            this.checkpointer = Executors.newSingleThreadScheduledExecutor(Threads.daemon("sqlite-checkpoint"));
            long every = CHECKPOINT_EVERY.toMillis();
            checkpointer.scheduleWithFixedDelay(this::checkpoint, every, every, TimeUnit.MILLISECONDS);
        } else {
            this.writer = null;
            this.checkpointer = null;
        }
    }

    /** Opens the pool and brings the schema up to the newest migration. */
    public static Database open(String jdbcUrl) {
        Dialect dialect = Dialect.of(jdbcUrl);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(dialect == Dialect.SQLITE ? withSqlitePragmas(jdbcUrl) : jdbcUrl);
        config.setPoolName("karta-db");
        config.setMaximumPoolSize(dialect == Dialect.SQLITE ? 8 : 16);
        if (dialect == Dialect.SQLITE) {
            config.setConnectionTimeout(10_000);
        } else {
            config.setConnectionTimeout(CONNECTION_WAIT.toMillis());
            config.setValidationTimeout(VALIDATION_WAIT.toMillis());
        }
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
        return new Database(dialect, jdbcUrl, pool);
    }

    /**
     * A connection of its own, outside the pool, for a session that lives long (a LISTEN, a lock
     * held for a push); the caller closes it. A read that waits longer than
     * {@link #UNPOOLED_READ_TIMEOUT} fails, so a cut network is noticed in seconds rather than when
     * TCP gives up; settings in the URL win. PostgreSQL only.
     */
    public Connection openUnpooled() throws SQLException {
        if (dialect != Dialect.POSTGRES) {
            throw new IllegalStateException("unpooled connections are for PostgreSQL");
        }
        Properties settings = new Properties();
        settings.setProperty("connectTimeout", Long.toString(CONNECTION_WAIT.toSeconds()));
        settings.setProperty("socketTimeout", Long.toString(UNPOOLED_READ_TIMEOUT.toSeconds()));
        settings.setProperty("tcpKeepAlive", "true");
        return DriverManager.getConnection(jdbcUrl, settings);
    }

    /** Whether the database answers a trivial query now (readiness). */
    public boolean answers() {
        try {
            return jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()) == 1;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * Whether {@code e} (or a cause) says the database cannot be reached: no pool connection
     * within {@link #CONNECTION_WAIT}, a connection that broke (SQLSTATE class 08), or a server
     * shutting down or starting (57P01…57P03). Such a failure passes when the database is back.
     */
    public static boolean isUnreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientConnectionException) {
                return true;
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02")
                        || state.equals("57P03")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String withSqlitePragmas(String url) {
        String[] pragmas = {"journal_mode=WAL", "busy_timeout=10000", "foreign_keys=true",
                "transaction_mode=IMMEDIATE", "synchronous=NORMAL",
                "wal_autocheckpoint=0"};
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

    /**
     * Runs {@code work} in one transaction: commit on return, roll back on throw. On SQLite it
     * first waits its turn among this server's writers (see the class comment).
     */
    public <R, X extends Exception> R inTransaction(HandleCallback<R, X> work) throws X {
        if (writer == null) {
            return jdbi.inTransaction(work);
        }
        awaitTurn();
        try {
            return jdbi.inTransaction(work);
        } finally {
            writer.unlock();
        }
    }

    /** Runs {@code work} on a connection in auto-commit mode: for reads. */
    public <R, X extends Exception> R withHandle(HandleCallback<R, X> work) throws X {
        return jdbi.withHandle(work);
    }

    /**
     * A connection of its own, in auto-commit mode, until the caller closes it: for state that lives
     * as long as a connection, such as a PostgreSQL advisory lock held across requests' work.
     */
    public Handle openHandle() {
        return jdbi.open();
    }

    /**
     * Runs a single write statement that needs no transaction around it; on SQLite in its turn
     * among this server's writers, like {@link #inTransaction}.
     */
    public int execute(String sql, Object... args) {
        if (writer == null) {
            return jdbi.withHandle(h -> h.execute(sql, args));
        }
        awaitTurn();
        try {
            return jdbi.withHandle(h -> h.execute(sql, args));
        } finally {
            writer.unlock();
        }
    }

    private void awaitTurn() {
        try {
            if (!writer.tryLock(WRITE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("database busy: no turn to write within " + WRITE_WAIT.toSeconds()
                        + " s (a transaction of this server is holding SQLite's write lock)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting to write to the database", e);
        }
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

    /**
     * Copies what it can of the write-ahead log into the database file without waiting for
     * readers or the writer (PASSIVE); what a long reader still needs is copied next time.
     */
    private void checkpoint() {
        try {
            jdbi.useHandle(h -> h.createQuery("PRAGMA wal_checkpoint(PASSIVE)").mapToMap().list());
        } catch (RuntimeException e) {
            LOG.warn("SQLite checkpoint failed; the next one retries", e);
        }
    }

    /** Stops the checkpoints (the last connection to close checkpoints what is left) and the pool. */
    @Override
    public void close() {
        if (checkpointer != null) {
            checkpointer.shutdown();
            try {
                if (!checkpointer.awaitTermination(WRITE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    LOG.warn("SQLite checkpoint still running at close");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        pool.close();
    }
}
