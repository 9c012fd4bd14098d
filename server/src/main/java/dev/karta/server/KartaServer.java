package dev.karta.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Json;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.audit.AuditRoutes;
import dev.karta.server.http.Authenticator;
import dev.karta.server.http.HttpApi;
import dev.karta.server.http.HttpMetrics;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.keys.KeyRoutes;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.projects.ProjectRoutes;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One running Karta server: every object built with {@code new}, in dependency order, and
 * stopped in reverse. Tests start it on port 0; {@link Main} starts it from the command line.
 */
public final class KartaServer implements AutoCloseable {
    private final Config config;
    private final Database db;
    private final HttpApi http;
    private final Optional<Tenants.NewOrg> bootstrapped;
    private final String publicUrl;

    private KartaServer(Config config) {
        this.config = config;
        try {
            Files.createDirectories(config.dataDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create data directory " + config.dataDir(), e);
        }
        this.db = Database.open(config.databaseUrl());
        AtomicReference<String> baseUrl = new AtomicReference<>(config.publicUrlFor(config.port()));
        ObjectMapper json = Json.newMapper();
        HttpMetrics metrics = new HttpMetrics();

        AuditLog audit = new AuditLog(db);
        ApiKeys keys = new ApiKeys(db, audit, config.keyCacheTtl());
        Tenants tenants = new Tenants(db, keys, audit);
        ProjectStore projectStore = new ProjectStore(db);
        Projects projects = new Projects(db, projectStore, audit, baseUrl::get);

        this.bootstrapped = tenants.bootstrap(config.bootstrapKey());
        HttpApi.Handlers handlers = new HttpApi.Handlers(
                new ProjectRoutes(projects, json),
                new KeyRoutes(keys, json),
                new AuditRoutes(audit));
        this.http = new HttpApi(config.bind(), config.port(), config.maxJsonBody(), json, new Authenticator(keys),
                metrics, handlers);
        try {
            http.start();
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        baseUrl.set(config.publicUrlFor(http.port()));
        this.publicUrl = baseUrl.get();
    }

    /** Opens the database (migrating it), bootstraps the first org if needed, and starts serving. */
    public static KartaServer start(Config config) {
        return new KartaServer(config);
    }

    public int port() {
        return http.port();
    }

    public String publicUrl() {
        return publicUrl;
    }

    public Config config() {
        return config;
    }

    /** The org and admin key created on this start, when the database was empty. */
    public Optional<Tenants.NewOrg> bootstrapped() {
        return bootstrapped;
    }

    @Override
    public void close() {
        http.stop();
        db.close();
    }
}
