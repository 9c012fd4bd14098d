package dev.karta.server.testkit;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.SQLException;
import java.util.UUID;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives a test a fresh, empty PostgreSQL database: a {@link PostgresDatabase} parameter resolves
 * to a new database on the one embedded PostgreSQL server of the test run, started on first use
 * and closed when the run ends.
 */
public final class PostgresExtension implements ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(PostgresExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == PostgresDatabase.class;
    }

    @Override
    public PostgresDatabase resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return freshDatabase(context);
    }

    /** A new database on the run's embedded server, which starts on first use. */
    static PostgresDatabase freshDatabase(ExtensionContext context) {
        return server(context).freshDatabase();
    }

    /**
     * A new database on an embedded server outside any JUnit context (see
     * {@code TestServer}'s {@code karta.test.storage}), started on first use and stopped when the
     * test JVM exits.
     */
    static synchronized PostgresDatabase freshDatabaseOfTheRun() {
        if (outsideJUnit == null) {
            outsideJUnit = Server.start();
            Server started = outsideJUnit;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    started.close();
                } catch (IOException e) {
                    // The JVM is exiting; the embedded server's folder is temporary.
                }
            }));
        }
        return outsideJUnit.freshDatabase();
    }

    private static Server outsideJUnit;

    private static Server server(ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE).computeIfAbsent(Server.class, type -> Server.start(), Server.class);
    }

    /** The embedded server, closed by JUnit with the root context's store. */
    private record Server(EmbeddedPostgres postgres) implements AutoCloseable {
        static Server start() {
            try {
                return new Server(EmbeddedPostgres.builder().start());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        PostgresDatabase freshDatabase() {
            String name = "test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
            try (var c = postgres.getPostgresDatabase().getConnection(); var s = c.createStatement()) {
                s.execute("CREATE DATABASE " + name);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot create test database " + name, e);
            }
            return new PostgresDatabase(postgres.getJdbcUrl("postgres", name));
        }

        @Override
        public void close() throws IOException {
            postgres.close();
        }
    }
}
