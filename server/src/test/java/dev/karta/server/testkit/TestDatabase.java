package dev.karta.server.testkit;

import dev.karta.server.Config;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The database a test's server runs on: SQLite in its data dir, or a fresh, empty database on the
 * test run's embedded PostgreSQL server. A test class that touches storage runs once on each:
 * {@code @ParameterizedClass @ArgumentsSource(EachDatabase.class)} with a {@code TestDatabase}
 * parameter (see {@link EachDatabase}).
 */
public final class TestDatabase {
    private final String name;
    private final Supplier<PostgresDatabase> postgres;

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

    /** {@code config} on this database: unchanged for SQLite, a fresh PostgreSQL database otherwise. */
    public Config.Builder configure(Config.Builder config) {
        return postgres == null ? config : config.databaseUrl(postgres.get().url());
    }

    /** The test kit's defaults for {@code dataDir} with a fresh preset admin key, on this database. */
    public Config config(Path dataDir) {
        return configure(TestServer.config(dataDir, TestServer.randomKey()).toBuilder()).build();
    }

    /** Starts a server with the test kit's defaults in {@code dataDir} on this database. */
    public TestServer start(Path dataDir) {
        return TestServer.start(config(dataDir));
    }

    public boolean isPostgres() {
        return postgres != null;
    }

    @Override
    public String toString() {
        return name;
    }
}
