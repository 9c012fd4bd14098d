package dev.karta.server.testkit;

import dev.karta.server.Config;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The database a test's server runs on: SQLite in its data dir, or a database of its own on the
 * test run's embedded PostgreSQL server, one per data dir (so a server started again on the same
 * data dir finds its data, as with SQLite). A test class that touches storage runs once on each:
 * {@code @ParameterizedClass @ArgumentsSource(EachDatabase.class)} with a {@code TestDatabase}
 * parameter (see {@link EachDatabase}).
 */
public final class TestDatabase {
    private final String name;
    private final Supplier<PostgresDatabase> postgres;
    private final Map<Path, String> urls = new ConcurrentHashMap<>();

    private TestDatabase(String name, Supplier<PostgresDatabase> postgres) {
        this.name = name;
        this.postgres = postgres;
    }

    /** SQLite in the data dir, the default: for helpers whose callers do not choose. */
    public static TestDatabase sqlite() {
        return new TestDatabase("SQLite", null);
    }

    static TestDatabase postgres(Supplier<PostgresDatabase> freshDatabase) {
        return new TestDatabase("PostgreSQL", freshDatabase);
    }

    /**
     * The JDBC URL of the database of {@code dataDir}: null on SQLite (the server's default, a file
     * in the data dir), else the PostgreSQL database made for that data dir on first use.
     */
    public String url(Path dataDir) {
        return postgres == null ? null : urls.computeIfAbsent(dataDir.toAbsolutePath(), dir -> postgres.get().url());
    }

    /** {@code config}, whose data dir is {@code dataDir}, on this database. */
    public Config.Builder configure(Path dataDir, Config.Builder config) {
        return postgres == null ? config : config.databaseUrl(url(dataDir));
    }

    /** The test kit's defaults for {@code dataDir} with a fresh preset admin key, on this database. */
    public Config config(Path dataDir) {
        return config(dataDir, TestServer.randomKey());
    }

    /** {@link TestServer#config} on this database. */
    public Config config(Path dataDir, String bootstrapKey) {
        return configure(dataDir, TestServer.config(dataDir, bootstrapKey).toBuilder()).build();
    }

    /** Starts a server with the test kit's defaults in {@code dataDir} on this database. */
    public TestServer start(Path dataDir) {
        return TestServer.start(config(dataDir));
    }

    /**
     * Starts a server with the test kit's defaults in a data dir of its own under {@code parent},
     * named after this database: one class-wide temporary folder serves both runs of a class.
     */
    public TestServer startUnder(Path parent) {
        return start(parent.resolve(name));
    }

    public boolean isPostgres() {
        return postgres != null;
    }

    @Override
    public String toString() {
        return name;
    }
}
