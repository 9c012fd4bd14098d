package dev.karta.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Json;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.audit.AuditRoutes;
import dev.karta.server.build.BuildPipeline;
import dev.karta.server.build.ImageBuilder;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.builds.BuildQueue;
import dev.karta.server.builds.BuildWorkers;
import dev.karta.server.builds.Sources;
import dev.karta.server.ci.KeylessCi;
import dev.karta.server.config.ConfigRoutes;
import dev.karta.server.config.Configs;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.dbstorage.CacheWarmUp;
import dev.karta.server.dbstorage.DatabaseStorage;
import dev.karta.server.datadir.SecretFiles;
import dev.karta.server.deploys.DeployRoutes;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.deploys.Deploys;
import dev.karta.server.dashboard.DashboardRoutes;
import dev.karta.server.dashboard.DashboardSessions;
import dev.karta.server.dashboard.DashboardViews;
import dev.karta.server.http.Authenticator;
import dev.karta.server.http.ClientAddress;
import dev.karta.server.http.HttpApi;
import dev.karta.server.http.HttpMetrics;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Routes;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.ingest.git.CommitDeployRoutes;
import dev.karta.server.ingest.git.GitHttp;
import dev.karta.server.ingest.upload.UploadRoutes;
import dev.karta.server.ingest.webhooks.WebhookRoutes;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.keys.KeyRoutes;
import dev.karta.server.ledger.Chains;
import dev.karta.server.ledger.LedgerReader;
import dev.karta.server.ledger.LedgerRoutes;
import dev.karta.server.logs.DeployLogStream;
import dev.karta.server.logs.LogBus;
import dev.karta.server.logs.LogFeeds;
import dev.karta.server.logs.LogRetention;
import dev.karta.server.logs.LogRoutes;
import dev.karta.server.logs.LogStore;
import dev.karta.server.logs.LogWakeups;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.process.ProcessLauncher;
import dev.karta.server.process.Sandbox;
import dev.karta.server.previews.CommitStatuses;
import dev.karta.server.previews.PreviewRoutes;
import dev.karta.server.previews.Previews;
import dev.karta.server.projects.ProjectRoutes;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.projects.Projects;
import dev.karta.server.releases.ReleaseDiffs;
import dev.karta.server.releases.ReleaseRoutes;
import dev.karta.server.releases.ReleaseStore;
import dev.karta.server.releases.Releases;
import dev.karta.server.releases.Retention;
import dev.karta.server.releases.RollbackPreviews;
import dev.karta.server.repos.Bindings;
import dev.karta.server.repos.BoundRepos;
import dev.karta.server.repos.GitRepos;
import dev.karta.server.repos.RepoRoutes;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.sessions.SessionRoutes;
import dev.karta.server.sessions.Sessions;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.store.Notifications;
import dev.karta.server.store.SecretBox;
import dev.karta.server.store.ServerKeys;
import dev.karta.server.usage.UsageRoutes;
import dev.karta.server.usage.UsageStore;
import dev.karta.server.webhooks.Deliveries;
import dev.karta.server.webhooks.WebhookEndpointRoutes;
import dev.karta.server.webhooks.WebhookEndpoints;
import dev.karta.server.workspaces.Workspaces;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Karta server: every object built with {@code new}, in dependency order, and
 * stopped in reverse. Tests start it on port 0; {@link Main} starts it from the command line.
 */
public final class KartaServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KartaServer.class);
    /** Where a deleted project's id is announced to the other servers. */
    private static final String PROJECT_DELETIONS = "karta_project_deletions";
    private final Config config;
    private final Database db;
    private final HttpApi http;
    private final BuildWorkers workers;
    private final Previews previews;
    private final LogStore logs;
    private final LogFeeds logFeeds;
    private final LogWakeups logWakeups;
    private final Notifications notifications;
    private final LogRetention logRetention;
    private final Sessions sessions;
    private final Deliveries deliveries;
    private final ProcessLauncher launcher;
    private final Idempotency idempotency;
    /** Storage in the database, or null with {@code --storage local}. */
    private final DatabaseStorage shared;
    private final CacheWarmUp warmUp;
    private final Optional<Tenants.NewOrg> bootstrapped;
    private final String publicUrl;

    /**
     * Builds and starts everything. Each thing that holds threads, processes or a port is pushed on
     * {@code made} as soon as it exists, so a failed start can close what it had made.
     */
    private KartaServer(Config config, Database db, Deque<AutoCloseable> made) {
        this.config = config;
        this.db = db;
        AtomicReference<String> baseUrl = new AtomicReference<>(config.publicUrlFor(config.port()));
        ObjectMapper json = Json.newMapper();
        HttpMetrics metrics = new HttpMetrics();

        this.notifications = new Notifications(db);
        made.push(notifications);
        // Rows written before the ledger existed are chained before anything appends.
        Chains.sealLegacy(db);
        AuditLog audit = new AuditLog(db);
        ApiKeys keys = new ApiKeys(db, audit, config.keyCacheTtl(), config.limits(), java.time.Clock.systemUTC(),
                notifications);
        Tenants tenants = new Tenants(db, keys, audit);
        ProjectStore projectStore = new ProjectStore(db);
        LogBus bus = new LogBus();
        LogStore logs = new LogStore(db, bus, notifications);
        this.logs = logs;
        this.logWakeups = new LogWakeups(notifications, bus);
        Projects projects = new Projects(db, projectStore, audit, baseUrl::get, logs,
                config.limits().maxProjectsPerOrg());

        LocalStorage storage = new LocalStorage(config.dataDir(), config.archive());
        if (config.storage() == Config.Storage.DATABASE) {
            DatabaseStorage.requireItsFilesIn(db);
        }
        this.shared = config.storage() == Config.Storage.DATABASE ? new DatabaseStorage(db, storage) : null;
        if (shared != null) {
            made.push(shared);
        }
        ReleaseFiles releaseFiles = shared != null ? shared.releaseFiles() : storage.releaseFiles();
        // With database storage the data dir is a cache: a starting replica fills it before it is
        // ready, and each release another replica activates is fetched ahead of its sessions.
        this.warmUp = new CacheWarmUp(db, releaseFiles, shared != null ? config.cacheWarmUp() : Duration.ZERO,
                java.time.Clock.systemUTC());
        made.push(warmUp);
        if (shared != null) {
            notifications.on(ReleaseStore.ACTIVATIONS, warmUp::prefetch);
        }
        RepoStore repoStore = shared != null ? shared.repos() : storage.repos();
        DeployStore deployStore = new DeployStore(db);
        ReleaseStore releaseStore = new ReleaseStore(db, notifications);
        Releases releases = new Releases(db, releaseStore, projectStore, deployStore, audit, logs, releaseFiles);
        // Keys in memory: nothing to close.
        SecretBox secrets = ServerKeys.withStoredDigestKey(db, SecretFiles.secretBox(config.secretsKeyFile()));
        Configs configs = new Configs(db, projectStore, releases, releaseStore, audit, logs, secrets);
        this.launcher = ProcessLauncher.detect(Config.SessionSettings.inheritedEnvironment(List.of()));
        made.push(launcher);
        Path workspacesDir = config.workspaces().dirIn(config.dataDir());
        Sandbox sandbox = Sandbox.create(launcher, config.sandbox(), config.dataDir(), workspacesDir);
        Workspaces workspaces = new Workspaces(storage.workspaces(workspacesDir), releaseFiles, db, logs,
                config.workspaces(), sandbox.overlays() && !config.workspaces().copies());
        made.push(workspaces);
        this.sessions = new Sessions(db, projects, logs, workspaces, config.sessions(), config.limits(), json, sandbox,
                configs::ofRelease);
        made.push(sessions);
        Retention retention = new Retention(db, releaseFiles, config.keepReleases(), sessions::pinnedReleaseIds);
        GitRepos repos = new GitRepos(repoStore, config.archive());
        projects.onDelete(project -> repos.delete(project.id()));
        projects.whileDeleting((h, actor, project) -> keys.revokeRestrictedTo(h, actor, project.id()));
        Bindings bindings = new Bindings(db, projectStore, audit, logs, secrets);
        bindings.encryptPlaintext();
        BoundRepos bound = new BoundRepos(repoStore, config.archive(), config.repos(), bindings, json, launcher);
        projects.onDelete(project -> bound.forget(project.id()));
        projects.onDelete(project -> retention.sweepUnreferenced());
        Sources sources = new Sources(releaseFiles, repos, bound, deployStore);
        // Previews queue builds for the workers, which finish them through previews: wired in two steps.
        AtomicReference<Runnable> wakeBuilders = new AtomicReference<>(() -> { });
        CommitStatuses statuses = new CommitStatuses(config.repos().githubApiUrl(), bound::statusTarget, json,
                config.repos().connectTimeout());
        this.previews = new Previews(db, projectStore, deployStore, releases, retention, releaseFiles, audit, logs,
                statuses, () -> wakeBuilders.get().run(), baseUrl::get,
                new Previews.Settings(config.previews().ttl(), config.previews().max(),
                        config.limits().maxQueuedDeploysPerOrg(), config.previews().sweepEvery()),
                java.time.Clock.systemUTC());
        made.push(previews);
        BuildQueue queue = new BuildQueue(db, deployStore, logs, config.buildLease(),
                config.limits().buildsPerOrg(config.buildWorkers()));
        this.workers = new BuildWorkers(queue, sources,
                new BuildPipeline(new ImageBuilder(config.builderCommand(), config.buildTimeout(), launcher),
                        configs::ofProject),
                releases, previews, retention, logs, config.buildWorkers(), config.buildTimeout());
        wakeBuilders.set(workers::wake);
        made.push(workers);
        Ingest ingest = new Ingest(db, projects, projectStore, queue, workers, audit, logs, deployStore,
                config.limits().maxQueuedDeploysPerOrg());
        this.idempotency = new Idempotency(db, json, secrets);
        made.push(idempotency);
        DashboardSessions dashboardSessions = new DashboardSessions(db, keys, java.time.Clock.systemUTC());
        this.logFeeds = new LogFeeds(logs, json, config.logs(), keys, dashboardSessions, logWakeups);
        made.push(logFeeds);
        metrics.registry().gauge("karta.logs.followers", logFeeds, LogFeeds::followers);
        projects.onDelete(project -> logFeeds.endProject(project.id()));
        // The other replicas end their streams of a deleted project too.
        notifications.on(PROJECT_DELETIONS, logFeeds::endProject);
        projects.onDelete(project -> {
            try {
                notifications.send(PROJECT_DELETIONS, project.id());
            } catch (RuntimeException e) {
                LOG.warn("could not tell the other servers that project {} was deleted: {}", project.name(),
                        e.toString());
            }
        });
        this.logRetention = new LogRetention(logs, config.logs());
        made.push(logRetention);
        this.deliveries = new Deliveries(db, secrets, config.webhooks());
        made.push(deliveries);
        WebhookEndpoints webhookEndpoints = new WebhookEndpoints(db, audit, secrets, config.webhooks(),
                deliveries::wake);

        this.bootstrapped = tenants.bootstrap(config.bootstrapKey());
        Authenticator authenticator = new Authenticator(keys::authenticate, new ClientAddress(config.trustedProxies()),
                token -> dashboardSessions.find(token)
                        .map(session -> new Authenticator.CookieSession(session.id(), session.principal()))
                        .orElse(null));
        KeyRoutes keyRoutes = new KeyRoutes(keys, (orgId, name) -> {
            Projects.validateName(name);
            return projects.require(orgId, name).id();
        }, idempotency, json);
        ReleaseDiffs diffs = new ReleaseDiffs(releaseFiles, repos::commitsBetween,
                release -> configs.ofRelease(release.id()));
        RollbackPreviews rollbackPreviews = new RollbackPreviews(releases, diffs, sessions::liveByRelease);
        Deploys deploys = new Deploys(deployStore);
        UsageStore usage = new UsageStore(db, releaseFiles);
        GitHttp gitHttp = new GitHttp(authenticator, db, projects, projectStore, repos, ingest, deployStore, audit,
                logs, config.archive().maxExpandedBytes());
        made.push(gitHttp);
        List<Routes> routes = List.of(
                new ProjectRoutes(projects, sessions::liveByRelease, idempotency, json),
                keyRoutes,
                new AuditRoutes(audit),
                new LedgerRoutes(new LedgerReader(db)),
                new ReleaseRoutes(releases, diffs, projects, rollbackPreviews, idempotency, json),
                new ConfigRoutes(configs, idempotency, json, secrets),
                new DeployRoutes(deploys, projects, new DeployLogStream(logFeeds, json)),
                new UploadRoutes(ingest, releaseFiles, idempotency, config.archive().maxCompressedBytes()),
                new CommitDeployRoutes(ingest, projects, repos, bound, idempotency, json),
                gitHttp,
                new RepoRoutes(bindings, bound, idempotency, json, baseUrl::get),
                new WebhookRoutes(db, bindings, ingest, audit, logs, json, config.repos().maxWebhookBytes(), previews),
                new PreviewRoutes(previews, idempotency, json),
                new LogRoutes((orgId, name) -> projects.require(orgId, name).id(), logs, logFeeds),
                new SessionRoutes(sessions, idempotency, json, keys, previews),
                new UsageRoutes(projects, usage),
                new WebhookEndpointRoutes(webhookEndpoints, idempotency, json),
                new KeylessCi(db, audit, keys, projects, idempotency, json, config.oidc(), baseUrl::get),
                new DashboardRoutes(dashboardSessions, new DashboardViews(projects, sessions::liveByRelease, releases,
                        rollbackPreviews, deploys, sessions, usage, keys, audit), releases, keys, keyRoutes,
                        baseUrl::get, java.time.Clock.systemUTC()));
        this.http = new HttpApi(config.bind(), config.port(), config.maxJsonBody(), json, authenticator,
                metrics, health(sandbox, config.storage()),
                () -> !db.answers() ? "the database is unreachable" : warmUp.pending(), routes);
        made.push(http::stop);
        notifications.start();
        http.start();
        baseUrl.set(config.publicUrlFor(http.port()));
        this.publicUrl = baseUrl.get();
        storage.sweepLeftovers();
        warmUp.start();
        workers.start(db.dialect() == Dialect.SQLITE);
        sessions.start();
        previews.start();
        logRetention.start();
        deliveries.start();
    }

    /** What {@code /healthz} says beside its status: how harnesses are contained, and where storage lives. */
    private static Map<String, Object> health(Sandbox sandbox, Config.Storage storage) {
        Map<String, Object> health = new LinkedHashMap<>(sandbox.health());
        health.put("storage", storage.name().toLowerCase(Locale.ROOT));
        return health;
    }

    /**
     * Start-up check of what other users of the host (and, without a sandbox, a harness reading the
     * data dir) must not read: the data dir becomes 0700 and every secret file 0600, with a
     * warning for each one that was wider. A SQLite database that does not exist yet is created
     * empty with mode 0600 first, so SQLite's own files ({@code -wal}, {@code -shm}, which take the
     * database's mode) are never readable by others either.
     */
    static void secureStorage(Config config) {
        LocalStorage.restrictToOwner(config.dataDir());
        sqliteFile(config.databaseUrl()).ifPresent(LocalStorage::createOwnerOnlyFile);
        secretFiles(config).forEach(LocalStorage::restrictFile);
    }

    /** The SQLite database with its journal files, and the key that encrypts secrets at rest. */
    static List<Path> secretFiles(Config config) {
        List<Path> files = new ArrayList<>();
        sqliteFile(config.databaseUrl()).ifPresent(db -> {
            files.add(db);
            for (String suffix : List.of("-wal", "-shm", "-journal")) {
                files.add(db.resolveSibling(db.getFileName() + suffix));
            }
        });
        files.add(config.secretsKeyFile());
        return files;
    }

    /** The file of a {@code jdbc:sqlite:FILE[?…]} URL; empty for PostgreSQL and in-memory databases. */
    static Optional<Path> sqliteFile(String jdbcUrl) {
        if (Dialect.of(jdbcUrl) != Dialect.SQLITE) {
            return Optional.empty();
        }
        String file = jdbcUrl.substring("jdbc:sqlite:".length());
        int query = file.indexOf('?');
        file = query < 0 ? file : file.substring(0, query);
        if (file.startsWith("file:")) {
            file = file.substring("file:".length());
        }
        if (file.isBlank() || file.contains(":memory:")) {
            return Optional.empty();
        }
        return Optional.of(Path.of(file).toAbsolutePath());
    }

    /** Opens the database (migrating it), bootstraps the first org if needed, and starts serving. */
    public static KartaServer start(Config config) {
        secureStorage(config);
        if (config.storage() == Config.Storage.DATABASE
                && config.secretsKeyFile().toAbsolutePath().startsWith(config.dataDir().toAbsolutePath())) {
            LOG.warn("--storage database makes the data dir a cache, but the secrets key {} lies in it: copy it "
                    + "somewhere safe and give every replica that copy with --secrets-key-file; a wiped data dir "
                    + "would take with it the key to every secret in the database", config.secretsKeyFile());
        }
        Database db = Database.open(config.databaseUrl());
        secretFiles(config).forEach(LocalStorage::restrictFile); // what opening the database created
        Deque<AutoCloseable> made = new ArrayDeque<>();
        made.push(db);
        try {
            return new KartaServer(config, db, made);
        } catch (RuntimeException | Error e) {
            // A failed start (port taken, bad preset key, unreadable data) closes all it made, newest first.
            while (!made.isEmpty()) {
                try {
                    made.pop().close();
                } catch (Exception | Error closing) {
                    e.addSuppressed(closing);
                }
            }
            throw e;
        }
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

    /** The project log store: for tests and benchmarks that write entries directly. */
    public LogStore logs() {
        return logs;
    }

    /** The sessions feature: for tests that step into a turn. */
    public Sessions sessions() {
        return sessions;
    }

    /** The build worker pool: for tests that step between builds. */
    public BuildWorkers workers() {
        return workers;
    }

    /** The wake-ups from other servers' log appends: for tests that wait until they listen. */
    public LogWakeups logWakeups() {
        return logWakeups;
    }

    /** The live log streams: for tests that count their reads. */
    public LogFeeds logFeeds() {
        return logFeeds;
    }

    /** The org and admin key created on this start, when the database was empty. */
    public Optional<Tenants.NewOrg> bootstrapped() {
        return bootstrapped;
    }

    @Override
    public void close() {
        sessions.close();
        previews.close();
        deliveries.close();
        logRetention.close();
        logFeeds.close();
        notifications.close();
        http.stop();
        idempotency.close();
        workers.close();
        launcher.close();
        warmUp.close();
        if (shared != null) {
            shared.close();
        }
        db.close();
    }
}
