package dev.karta.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Durations;
import dev.karta.server.process.Sandbox;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.dbstorage.DatabaseStorage;
import dev.karta.server.migration.Migration;
import dev.karta.server.migration.MigrationFailed;
import dev.karta.server.migration.SecretsKeyRotation;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.store.Dialect;
import dev.karta.server.datadir.SecretFiles;
import dev.karta.server.http.ApiError;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;

/**
 * {@code karta server}: reads flags, then {@code KARTA_*} environment variables, then defaults
 * into a {@link Config}, and runs the server until SIGTERM or Ctrl-C.
 */
@Command(name = "karta server", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        sortOptions = false, usageHelpAutoWidth = true,
        description = "Run the Karta control plane (HTTP API, git remote, build workers).",
        subcommands = {Main.CreateOrg.class, Main.Export.class, Main.Import.class, Main.MigrateStorage.class,
                Main.RotateSecretsKey.class})
public final class Main implements Callable<Integer> {

    @Option(names = "--port",
            defaultValue = "${env:KARTA_PORT:-" + Config.DEFAULT_PORT + "}",
            description = "TCP port (env KARTA_PORT, default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--bind",
            defaultValue = "${env:KARTA_BIND:-" + Config.DEFAULT_BIND + "}",
            description = "Address to listen on (env KARTA_BIND, default ${DEFAULT-VALUE})")
    String bind;

    // The options that name an installation are inherited: `karta server create-org NAME --data-dir DIR`
    // works as well as `karta server --data-dir DIR create-org NAME` (issue 16).
    @Option(names = "--data-dir", scope = ScopeType.INHERIT,
            defaultValue = "${env:KARTA_DATA_DIR:-${env:HOME:-${sys:user.home}}/.local/share/karta}",
            description = "Where releases, repositories and the SQLite database live (env KARTA_DATA_DIR, default ${DEFAULT-VALUE}, from $HOME)")
    Path dataDir;

    @Option(names = "--database", scope = ScopeType.INHERIT, defaultValue = "${env:KARTA_DATABASE}",
            description = "JDBC URL: jdbc:sqlite:FILE or jdbc:postgresql://HOST/DB (env KARTA_DATABASE, default SQLite in the data dir)")
    String database;

    @Option(names = "--storage", scope = ScopeType.INHERIT, defaultValue = "${env:KARTA_STORAGE}",
            paramLabel = "local|database",
            description = "Where release files and git repositories live: the data dir (local), or the PostgreSQL "
                    + "database, shared by every replica, with the data dir only a cache (env KARTA_STORAGE, default "
                    + "database with PostgreSQL, local with SQLite)")
    String storage;

    @Option(names = "--cache-warm-up",
            defaultValue = "${env:KARTA_CACHE_WARM_UP:-" + Config.DEFAULT_CACHE_WARM_UP + "}",
            converter = DurationConverter.class,
            description = "With database storage: a starting server fetches the active releases' files into its "
                    + "cache first and answers /readyz 503 until done, for at most this long, then fetches each "
                    + "release other servers activate; 0s turns both off (env KARTA_CACHE_WARM_UP, default "
                    + "${DEFAULT-VALUE})")
    Duration cacheWarmUp;

    @Option(names = "--trusted-proxy", defaultValue = "${env:KARTA_TRUSTED_PROXIES}", split = ",",
            paramLabel = "ADDRESS", description = "Load balancers (addresses or CIDR ranges) whose X-Forwarded-For "
                    + "names the client, in the audit log and the window of failed key checks (env "
                    + "KARTA_TRUSTED_PROXIES, default none: the connection's peer is the client)")
    List<String> trustedProxies;

    @Option(names = "--public-url", defaultValue = "${env:KARTA_PUBLIC_URL}",
            description = "Base URL handed out in project and git URLs (env KARTA_PUBLIC_URL, default http://BIND:PORT)")
    String publicUrl;

    @Option(names = "--keep-releases",
            defaultValue = "${env:KARTA_KEEP_RELEASES:-" + Config.DEFAULT_KEEP_RELEASES + "}",
            description = "Release trees kept per project, 0 = all (env KARTA_KEEP_RELEASES, default ${DEFAULT-VALUE})")
    int keepReleases;

    @Option(names = "--build-workers",
            defaultValue = "${env:KARTA_BUILD_WORKERS:-" + Config.DEFAULT_BUILD_WORKERS + "}",
            description = "Builds run at once, each for a different project (env KARTA_BUILD_WORKERS, default ${DEFAULT-VALUE})")
    int buildWorkers;

    @Option(names = "--build-timeout",
            defaultValue = "${env:KARTA_BUILD_TIMEOUT:-" + Config.DEFAULT_BUILD_TIMEOUT + "}",
            converter = DurationConverter.class,
            description = "A build running longer fails (env KARTA_BUILD_TIMEOUT, default ${DEFAULT-VALUE})")
    Duration buildTimeout;

    @Option(names = "--preview-ttl",
            defaultValue = "${env:KARTA_PREVIEW_TTL:-" + Config.Previews.DEFAULT_TTL + "}",
            converter = DurationConverter.class,
            description = "A preview expires this long after the last push to its pull request (env KARTA_PREVIEW_TTL, "
                    + "default ${DEFAULT-VALUE})")
    Duration previewTtl;

    @Option(names = "--max-previews",
            defaultValue = "${env:KARTA_MAX_PREVIEWS:-" + Config.Previews.DEFAULT_MAX + "}",
            description = "Live previews per project; a new one expires the least recently pushed (env "
                    + "KARTA_MAX_PREVIEWS, default ${DEFAULT-VALUE})")
    int maxPreviews;

    @Option(names = "--build-lease",
            defaultValue = "${env:KARTA_BUILD_LEASE:-" + Config.DEFAULT_BUILD_LEASE + "}",
            converter = DurationConverter.class,
            description = "A build whose server has not renewed its lease for this long (the server died) is "
                    + "taken over by another server, or by this one when it starts again: retried once, then "
                    + "failed (env KARTA_BUILD_LEASE, default ${DEFAULT-VALUE}, at least 1s)")
    Duration buildLease;

    @Option(names = "--builder", defaultValue = "${env:KARTA_BUILDER}",
            description = "Image builder argv for dockerfile/buildpack releases: a JSON array of strings, e.g. "
                    + "'[\"docker\",\"build\",\"-t\",\"{image_ref}\",\"{context}\"]' (an argument may hold spaces), "
                    + "or words separated by whitespace; {context}, {image_ref} and {kind} are substituted. It runs "
                    + "with PATH, HOME and LANG only (env KARTA_BUILDER, default none: such releases run as file_copy)")
    String builder;

    @Option(names = "--max-archive-bytes",
            defaultValue = "${env:KARTA_MAX_ARCHIVE_BYTES:-" + Config.ArchiveLimits.DEFAULT_MAX_COMPRESSED_BYTES + "}",
            description = "Largest compressed source archive (env KARTA_MAX_ARCHIVE_BYTES, default "
                    + (Config.ArchiveLimits.DEFAULT_MAX_COMPRESSED_BYTES >> 20) + " MiB)")
    long maxArchiveBytes;

    @Option(names = "--max-expanded-bytes",
            defaultValue = "${env:KARTA_MAX_EXPANDED_BYTES:-" + Config.ArchiveLimits.DEFAULT_MAX_EXPANDED_BYTES + "}",
            description = "Largest expanded source tree (env KARTA_MAX_EXPANDED_BYTES, default "
                    + (Config.ArchiveLimits.DEFAULT_MAX_EXPANDED_BYTES >> 20) + " MiB)")
    long maxExpandedBytes;

    @Option(names = "--max-archive-entries",
            defaultValue = "${env:KARTA_MAX_ARCHIVE_ENTRIES:-" + Config.ArchiveLimits.DEFAULT_MAX_ENTRIES + "}",
            description = "Most members in a source archive (env KARTA_MAX_ARCHIVE_ENTRIES, default ${DEFAULT-VALUE})")
    int maxEntries;

    @Option(names = "--max-path-bytes",
            defaultValue = "${env:KARTA_MAX_PATH_BYTES:-" + Config.ArchiveLimits.DEFAULT_MAX_PATH_BYTES + "}",
            description = "Longest member path in bytes (env KARTA_MAX_PATH_BYTES, default ${DEFAULT-VALUE})")
    int maxPathBytes;

    @Option(names = "--max-path-depth",
            defaultValue = "${env:KARTA_MAX_PATH_DEPTH:-" + Config.ArchiveLimits.DEFAULT_MAX_PATH_DEPTH + "}",
            description = "Deepest member path in folders (env KARTA_MAX_PATH_DEPTH, default ${DEFAULT-VALUE})")
    int maxPathDepth;

    @Option(names = "--github-api-url",
            defaultValue = "${env:KARTA_GITHUB_API_URL:-" + Config.Repos.DEFAULT_GITHUB_API_URL + "}",
            description = "GitHub REST API that serves tarballs of bound repositories; GitHub Enterprise: "
                    + "https://HOST/api/v3 (env KARTA_GITHUB_API_URL, default ${DEFAULT-VALUE})")
    String githubApiUrl;

    @Option(names = "--github-oidc-issuer",
            defaultValue = "${env:KARTA_GITHUB_OIDC_ISSUER:-" + Config.Oidc.DEFAULT_GITHUB_ISSUER + "}",
            description = "OIDC issuer whose GitHub Actions tokens POST /oidc/github/token exchanges for short-lived "
                    + "project keys (keyless CI); GitHub Enterprise Server: https://HOST/_services/token (env "
                    + "KARTA_GITHUB_OIDC_ISSUER, default ${DEFAULT-VALUE})")
    String githubOidcIssuer;

    @Option(names = "--ssh-command",
            defaultValue = "${env:KARTA_SSH_COMMAND:-" + Config.Repos.DEFAULT_SSH_COMMAND + "}", split = "\\s+",
            description = "ssh client argv for ssh:// and user@host:path repository URLs; it runs with "
                    + "-o BatchMode=yes and the server user's keys and known_hosts (env KARTA_SSH_COMMAND, "
                    + "default ${DEFAULT-VALUE})")
    List<String> sshCommand;

    @Option(names = "--max-webhook-bytes",
            defaultValue = "${env:KARTA_MAX_WEBHOOK_BYTES:-" + Config.Repos.DEFAULT_MAX_WEBHOOK_BYTES + "}",
            description = "Largest GitHub webhook payload accepted (env KARTA_MAX_WEBHOOK_BYTES, default "
                    + (Config.Repos.DEFAULT_MAX_WEBHOOK_BYTES >> 20) + " MiB)")
    long maxWebhookBytes;

    /** Token for private GitHub repositories; from the environment so it never shows in a process list. */
    @Option(names = "--github-token", defaultValue = "${env:KARTA_GITHUB_TOKEN}", hidden = true)
    String githubToken;

    @Option(names = "--github-token-file", defaultValue = "${env:KARTA_GITHUB_TOKEN_FILE}", paramLabel = "FILE",
            description = "File holding the operator's GitHub token (env KARTA_GITHUB_TOKEN_FILE); preferred to "
                    + "KARTA_GITHUB_TOKEN, which processes the server starts could read from its environment")
    Path githubTokenFile;

    @Option(names = "--log-retention",
            defaultValue = "${env:KARTA_LOG_RETENTION:-" + Config.Logs.DEFAULT_RETENTION + "}",
            converter = DurationConverter.class,
            description = "Log entries older than this are pruned (env KARTA_LOG_RETENTION, default ${DEFAULT-VALUE})")
    Duration logRetention;

    @Option(names = "--log-max-entries",
            defaultValue = "${env:KARTA_LOG_MAX_ENTRIES:-" + Config.Logs.DEFAULT_MAX_ENTRIES + "}",
            description = "Newest log entries kept per project (env KARTA_LOG_MAX_ENTRIES, default ${DEFAULT-VALUE})")
    int logMaxEntries;

    @Option(names = "--harness-claude",
            defaultValue = "${env:KARTA_HARNESS_CLAUDE:-" + Config.SessionSettings.DEFAULT_CLAUDE + "}",
            description = "Claude Code executable sessions run (env KARTA_HARNESS_CLAUDE, default ${DEFAULT-VALUE} on PATH)")
    String harnessClaude;

    @Option(names = "--harness-opencode",
            defaultValue = "${env:KARTA_HARNESS_OPENCODE:-" + Config.SessionSettings.DEFAULT_OPENCODE + "}",
            description = "OpenCode executable sessions run (env KARTA_HARNESS_OPENCODE, default ${DEFAULT-VALUE} on PATH)")
    String harnessOpencode;

    @Option(names = "--harness-env", defaultValue = "${env:KARTA_HARNESS_ENV}", split = ",", paramLabel = "NAME",
            description = "Extra environment variables passed on to harnesses, by name, besides PATH, HOME and LANG "
                    + "(e.g. ANTHROPIC_API_KEY; env KARTA_HARNESS_ENV, comma-separated)")
    List<String> harnessEnv;

    @Option(names = "--sandbox", defaultValue = "${env:KARTA_SANDBOX}", paramLabel = "bwrap|none",
            description = "How harnesses are contained: bwrap (bubblewrap: own workspace, HOME and namespaces; the "
                    + "default when bwrap works here) or none (as the server's user; logged as a warning) (env KARTA_SANDBOX)")
    String sandbox;

    @Option(names = "--harness-network", defaultValue = "${env:KARTA_HARNESS_NETWORK}", paramLabel = "outbound|none|host",
            description = "Network of sandboxed harnesses: outbound (the internet, never this host's services or "
                    + "private networks; needs slirp4netns; the default where it works), none, or host (the host's "
                    + "network, loopback included) (env KARTA_HARNESS_NETWORK)")
    String harnessNetwork;

    @Option(names = "--harness-max-memory",
            defaultValue = "${env:KARTA_HARNESS_MAX_MEMORY:-" + Sandbox.Settings.DEFAULT_MAX_MEMORY_BYTES + "}",
            description = "Memory one harness turn may use, all its processes together, in bytes; past it the "
                    + "kernel kills inside the turn (env KARTA_HARNESS_MAX_MEMORY, default 2 GiB; needs writable cgroups)")
    long harnessMaxMemory;

    @Option(names = "--harness-max-processes",
            defaultValue = "${env:KARTA_HARNESS_MAX_PROCESSES:-" + Sandbox.Settings.DEFAULT_MAX_PROCESSES + "}",
            description = "Processes and threads one harness turn may run at once (env KARTA_HARNESS_MAX_PROCESSES, "
                    + "default ${DEFAULT-VALUE}; needs writable cgroups)")
    int harnessMaxProcesses;

    @Option(names = "--harness-read-only", defaultValue = "${env:KARTA_HARNESS_READ_ONLY}", split = ",",
            paramLabel = "PATH", description = "More host paths sandboxed harnesses may read, e.g. where a harness "
                    + "CLI or its runtime is installed outside /usr (env KARTA_HARNESS_READ_ONLY, comma-separated)")
    List<Path> harnessReadOnly;

    @Option(names = "--session-idle-timeout",
            defaultValue = "${env:KARTA_SESSION_IDLE_TIMEOUT:-" + Config.SessionSettings.DEFAULT_IDLE_TIMEOUT + "}",
            converter = DurationConverter.class,
            description = "A session with no turn for this long ends (env KARTA_SESSION_IDLE_TIMEOUT, default ${DEFAULT-VALUE})")
    Duration sessionIdleTimeout;

    @Option(names = "--turn-timeout",
            defaultValue = "${env:KARTA_TURN_TIMEOUT:-" + Config.SessionSettings.DEFAULT_TURN_TIMEOUT + "}",
            converter = DurationConverter.class,
            description = "A harness turn running longer is killed (env KARTA_TURN_TIMEOUT, default ${DEFAULT-VALUE})")
    Duration turnTimeout;

    @Option(names = "--max-concurrent-turns",
            defaultValue = "${env:KARTA_MAX_CONCURRENT_TURNS:-" + Config.SessionSettings.DEFAULT_MAX_CONCURRENT_TURNS + "}",
            description = "Harness turns this server runs at once; more answer 503 (env KARTA_MAX_CONCURRENT_TURNS, "
                    + "default ${DEFAULT-VALUE})")
    int maxConcurrentTurns;

    @Option(names = "--workspaces-dir", defaultValue = "${env:KARTA_WORKSPACES_DIR}", paramLabel = "DIR",
            description = "Where sessions' workspaces and HOMEs live: a local cache (env KARTA_WORKSPACES_DIR, "
                    + "default DATA_DIR/workspaces)")
    Path workspacesDir;

    @Option(names = "--max-workspace-bytes",
            defaultValue = "${env:KARTA_MAX_WORKSPACE_BYTES:-" + Config.Workspaces.DEFAULT_MAX_WORKSPACE_BYTES + "}",
            description = "A session whose workspace and HOME hold more after a turn is refused further turns "
                    + "(env KARTA_MAX_WORKSPACE_BYTES, default " + (Config.Workspaces.DEFAULT_MAX_WORKSPACE_BYTES >> 20)
                    + " MiB)")
    long maxWorkspaceBytes;

    @Option(names = "--max-workspaces",
            defaultValue = "${env:KARTA_MAX_WORKSPACES:-" + Config.Workspaces.DEFAULT_MAX_WORKSPACES + "}",
            description = "Workspaces kept on this machine; beyond it the least recently used idle one is released "
                    + "(env KARTA_MAX_WORKSPACES, default ${DEFAULT-VALUE})")
    int maxWorkspaces;

    @Option(names = "--max-session-state-bytes",
            defaultValue = "${env:KARTA_MAX_SESSION_STATE_BYTES:-" + Config.Workspaces.DEFAULT_MAX_STATE_BYTES + "}",
            description = "Largest harness state (a session's HOME, compressed) saved in the store after a turn "
                    + "(env KARTA_MAX_SESSION_STATE_BYTES, default " + (Config.Workspaces.DEFAULT_MAX_STATE_BYTES >> 20)
                    + " MiB)")
    long maxSessionStateBytes;

    @Option(names = "--workspace-copies", defaultValue = "${env:KARTA_WORKSPACE_COPIES:-false}",
            description = "Make each session's workspace a full copy of its release even where overlays work "
                    + "(env KARTA_WORKSPACE_COPIES)")
    boolean workspaceCopies;

    @Option(names = "--github-token-owners", defaultValue = "${env:KARTA_GITHUB_TOKEN_OWNERS}", split = ",",
            paramLabel = "OWNER", description = "GitHub owners (orgs or users) whose repositories may be fetched with "
                    + "the operator's GitHub token; every other binding needs its own token or is fetched anonymously "
                    + "(env KARTA_GITHUB_TOKEN_OWNERS, comma-separated; default none)")
    List<String> githubTokenOwners;

    @Option(names = "--allow-repo-url", defaultValue = "${env:KARTA_ALLOW_REPO_URLS}", split = ",", paramLabel = "PREFIX",
            description = "Repository URL prefix that may be bound although it is a file:// URL or points at a "
                    + "loopback or private address, e.g. file:///srv/git/ (repeatable; env KARTA_ALLOW_REPO_URLS, "
                    + "comma-separated)")
    List<String> allowRepoUrls;

    @Option(names = "--allow-private-webhooks", defaultValue = "${env:KARTA_ALLOW_PRIVATE_WEBHOOKS:-false}",
            description = "Let event webhook endpoints use plain http:// and loopback, private or link-local "
                    + "addresses (env KARTA_ALLOW_PRIVATE_WEBHOOKS; default: https:// to public addresses only)")
    boolean allowPrivateWebhooks;

    @Option(names = "--max-webhook-endpoints",
            defaultValue = "${env:KARTA_MAX_WEBHOOK_ENDPOINTS:-" + Config.Webhooks.DEFAULT_MAX_ENDPOINTS_PER_ORG + "}",
            description = "Most event webhook endpoints one org may have (env KARTA_MAX_WEBHOOK_ENDPOINTS, "
                    + "default ${DEFAULT-VALUE})")
    int maxWebhookEndpoints;

    @Option(names = "--repo-connect-timeout",
            defaultValue = "${env:KARTA_REPO_CONNECT_TIMEOUT:-" + Config.Repos.DEFAULT_CONNECT_TIMEOUT + "}",
            converter = DurationConverter.class,
            description = "Longest connect to a repository host (env KARTA_REPO_CONNECT_TIMEOUT, default ${DEFAULT-VALUE})")
    Duration repoConnectTimeout;

    @Option(names = "--repo-read-timeout",
            defaultValue = "${env:KARTA_REPO_READ_TIMEOUT:-" + Config.Repos.DEFAULT_READ_TIMEOUT + "}",
            converter = DurationConverter.class,
            description = "Longest wait for the next byte of a fetch (env KARTA_REPO_READ_TIMEOUT, default ${DEFAULT-VALUE})")
    Duration repoReadTimeout;

    @Option(names = "--repo-fetch-deadline",
            defaultValue = "${env:KARTA_REPO_FETCH_DEADLINE:-" + Config.Repos.DEFAULT_FETCH_DEADLINE + "}",
            converter = DurationConverter.class,
            description = "Longest whole fetch of a bound repository (env KARTA_REPO_FETCH_DEADLINE, default ${DEFAULT-VALUE})")
    Duration repoFetchDeadline;

    @Option(names = "--max-builds-per-org",
            defaultValue = "${env:KARTA_MAX_BUILDS_PER_ORG:-" + Config.Limits.DEFAULT_MAX_BUILDS_PER_ORG + "}",
            description = "Builds one org may run at once (over every replica), so another org always finds a "
                    + "worker free; 0 = half the build workers, at least 1. A single-tenant server may raise it to "
                    + "--build-workers (env KARTA_MAX_BUILDS_PER_ORG, default ${DEFAULT-VALUE})")
    int maxBuildsPerOrg;

    @Option(names = "--max-projects-per-org",
            defaultValue = "${env:KARTA_MAX_PROJECTS_PER_ORG:-" + Config.Limits.DEFAULT_MAX_PROJECTS_PER_ORG + "}",
            description = "Projects one org may have (env KARTA_MAX_PROJECTS_PER_ORG, default ${DEFAULT-VALUE})")
    int maxProjectsPerOrg;

    @Option(names = "--max-sessions-per-org",
            defaultValue = "${env:KARTA_MAX_SESSIONS_PER_ORG:-" + Config.Limits.DEFAULT_MAX_LIVE_SESSIONS_PER_ORG + "}",
            description = "Live (not ended) sessions one org may have (env KARTA_MAX_SESSIONS_PER_ORG, default ${DEFAULT-VALUE})")
    int maxSessionsPerOrg;

    @Option(names = "--max-turns-per-org",
            defaultValue = "${env:KARTA_MAX_TURNS_PER_ORG:-" + Config.Limits.DEFAULT_MAX_TURNS_PER_ORG + "}",
            description = "Harness turns one org may run at once (env KARTA_MAX_TURNS_PER_ORG, default ${DEFAULT-VALUE})")
    int maxTurnsPerOrg;

    @Option(names = "--max-queued-deploys-per-org",
            defaultValue = "${env:KARTA_MAX_QUEUED_DEPLOYS_PER_ORG:-" + Config.Limits.DEFAULT_MAX_QUEUED_DEPLOYS_PER_ORG + "}",
            description = "Deploys one org may have queued (env KARTA_MAX_QUEUED_DEPLOYS_PER_ORG, default ${DEFAULT-VALUE})")
    int maxQueuedDeploysPerOrg;

    @Option(names = "--secrets-key-file", scope = ScopeType.INHERIT, defaultValue = "${env:KARTA_SECRETS_KEY_FILE}",
            description = "AES key that encrypts webhook secrets and repository credentials at rest (env "
                    + "KARTA_SECRETS_KEY_FILE, default DATA_DIR/secrets.key, created with mode 0600)")
    Path secretsKeyFile;

    @Option(names = "--bootstrap-key", defaultValue = "${env:KARTA_BOOTSTRAP_KEY}", hidden = true)
    String bootstrapKey;

    @Option(names = "--bootstrap-key-file", defaultValue = "${env:KARTA_BOOTSTRAP_KEY_FILE}", paramLabel = "FILE",
            description = "File holding the admin key the first start of an empty server gives org 'default' (env "
                    + "KARTA_BOOTSTRAP_KEY_FILE); preferred to KARTA_BOOTSTRAP_KEY, which processes the server starts "
                    + "could read from its environment")
    Path bootstrapKeyFile;

    Config config() {
        Path dir = dataDir.toAbsolutePath();
        String url = database == null || database.isBlank() ? Config.sqliteUrl(dir) : database;
        String bootstrap = secret(bootstrapKey, bootstrapKeyFile, "KARTA_BOOTSTRAP_KEY", "--bootstrap-key-file");
        String githubToken = secret(this.githubToken, githubTokenFile, "KARTA_GITHUB_TOKEN", "--github-token-file");
        return Config.builder(dir).bind(bind).port(port).databaseUrl(url).publicUrl(publicUrl).bootstrapKey(bootstrap)
                .archive(new Config.ArchiveLimits(maxArchiveBytes, maxExpandedBytes, maxEntries, maxPathBytes,
                        maxPathDepth))
                .buildWorkers(buildWorkers).buildTimeout(buildTimeout).buildLease(buildLease)
                .builderCommand(argv("--builder", builder))
                .keepReleases(keepReleases)
                .repos(new Config.Repos(githubApiUrl, githubToken, sshCommand, maxWebhookBytes,
                        githubTokenOwners == null ? Set.of() : Set.copyOf(githubTokenOwners), allowRepoUrls,
                        repoConnectTimeout, repoReadTimeout, repoFetchDeadline, null))
                .logs(Config.Logs.DEFAULTS.withRetention(logRetention, logMaxEntries))
                .sessions(sessionSettings())
                .limits(new Config.Limits(maxProjectsPerOrg, maxSessionsPerOrg, maxTurnsPerOrg, maxQueuedDeploysPerOrg,
                        maxBuildsPerOrg, Config.Limits.DEFAULTS.keyFailuresPerPrefix(),
                        Config.Limits.DEFAULTS.keyFailuresPerAddress()))
                .secretsKeyFile(secretsKeyFile == null ? null : secretsKeyFile.toAbsolutePath())
                .sandbox(new Sandbox.Settings(Sandbox.Mode.parse(sandbox), Sandbox.Network.parse(harnessNetwork),
                        harnessReadOnly == null ? List.of() : harnessReadOnly.stream().map(Path::toAbsolutePath).toList(),
                        harnessMaxMemory, harnessMaxProcesses))
                .workspaces(new Config.Workspaces(workspacesDir == null ? null : workspacesDir.toAbsolutePath(),
                        maxWorkspaceBytes, maxWorkspaces, maxSessionStateBytes, workspaceCopies))
                .storage(Config.Storage.parse(storage))
                .cacheWarmUp(cacheWarmUp)
                .trustedProxies(trustedProxies)
                .previews(new Config.Previews(previewTtl, maxPreviews, null))
                .webhooks(Config.Webhooks.DEFAULTS.withAllowPrivate(allowPrivateWebhooks)
                        .withMaxEndpointsPerOrg(maxWebhookEndpoints))
                .oidc(Config.Oidc.DEFAULTS.withGithubIssuer(githubOidcIssuer))
                .build();
    }

    /**
     * A secret given either as a value ({@code plain}: the variable {@code variable} or its hidden
     * flag) or as a file ({@code file}, whose trailing line break is dropped), never both.
     */
    static String secret(String plain, Path file, String variable, String fileFlag) {
        boolean hasPlain = plain != null && !plain.isBlank();
        if (file == null || file.toString().isBlank()) {
            return hasPlain ? plain : null;
        }
        if (hasPlain) {
            throw new IllegalArgumentException(variable + " and " + variable + "_FILE (" + fileFlag + ") are both set; "
                    + "give the secret once, preferably as a file");
        }
        String value;
        try {
            value = SecretFiles.read(file);
        } catch (IOException | UncheckedIOException e) {
            throw new IllegalArgumentException("cannot read " + variable + "_FILE (" + fileFlag + ") " + file + ": "
                    + (e instanceof NoSuchFileException ? "no such file" : e.getMessage()));
        }
        value = value.replaceAll("[\\r\\n]+$", "");
        if (value.isBlank()) {
            throw new IllegalArgumentException(variable + "_FILE (" + fileFlag + ") " + file + " is empty");
        }
        return value;
    }

    /**
     * Warnings about secrets given as plain values: a variable in the server's environment can be
     * read by every process the server starts ({@code /proc/PID/environ}), a flag by anyone who
     * lists processes.
     */
    List<String> secretWarnings() {
        List<String> warnings = new ArrayList<>();
        if (bootstrapKey != null && !bootstrapKey.isBlank()) {
            warnings.add(plainSecretWarning("KARTA_BOOTSTRAP_KEY", "--bootstrap-key-file"));
        }
        if (githubToken != null && !githubToken.isBlank()) {
            warnings.add(plainSecretWarning("KARTA_GITHUB_TOKEN", "--github-token-file"));
        }
        return warnings;
    }

    private static String plainSecretWarning(String variable, String fileFlag) {
        return "warning: " + variable + " is set in the server's environment, where processes the server starts "
                + "can read it; put the secret in a file only the server's user can read and pass "
                + variable + "_FILE (" + fileFlag + ") instead";
    }

    private Config.SessionSettings sessionSettings() {
        Config.SessionSettings d = Config.SessionSettings.defaults();
        return new Config.SessionSettings(harnessClaude, harnessOpencode, sessionIdleTimeout, turnTimeout,
                maxConcurrentTurns, d.maxMessageBytes(), d.maxTurnOutputBytes(),
                Config.SessionSettings.inheritedEnvironment(harnessEnv));
    }

    @Override
    public Integer call() throws InterruptedException {
        Config config = config();
        secretWarnings().forEach(warning -> System.err.println("karta: " + warning));
        KartaServer server = KartaServer.start(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("karta: shutting down");
            server.close();
            stopped.countDown();
        }, "karta-shutdown"));
        server.bootstrapped().ifPresent(org -> {
            System.out.println();
            System.out.println("Created org '" + org.name() + "' and its admin key " + org.adminKeyId() + ".");
            if (config.bootstrapKey() == null) {
                System.out.println("This key is shown once; store it now:");
                System.out.println();
                System.out.println("    " + org.adminSecret());
            } else {
                System.out.println("Its secret is the one given in KARTA_BOOTSTRAP_KEY"
                        + (bootstrapKeyFile == null ? "." : "_FILE (" + bootstrapKeyFile + ")."));
            }
            System.out.println();
            System.out.println("Log in from another terminal with:  ./karta login --server " + server.publicUrl());
            System.out.println("or open the dashboard in a browser:  " + server.publicUrl() + "/");
            System.out.println();
        });
        if (server.bootstrapped().isEmpty() && config.bootstrapKey() != null) {
            System.err.println("karta: the bootstrap key (KARTA_BOOTSTRAP_KEY or its _FILE) ignored: this server "
                    + "already has an org "
                    + "(it only seeds the first start of an empty server)");
        }
        System.out.println("Karta listening on " + server.publicUrl() + "  (data " + config.dataDir()
                + ", database " + redact(config.databaseUrl()) + ")");
        System.out.flush();
        stopped.await();
        return 0;
    }

    private static String redact(String jdbcUrl) {
        return jdbcUrl.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    /** {@code karta server create-org NAME}: an operator command on the server host. */
    @Command(name = "create-org", mixinStandardHelpOptions = true,
            description = "Create a tenant and print its first admin key (shown once).")
    static final class CreateOrg implements Callable<Integer> {
        @CommandLine.ParentCommand
        Main parent;

        @Parameters(index = "0", paramLabel = "NAME", description = "org name: 3-40 of a-z, 0-9, '-'")
        String name;

        @Override
        public Integer call() {
            Config config = parent.config();
            KartaServer.secureStorage(config);
            try (Database db = Database.open(config.databaseUrl())) {
                KartaServer.secretFiles(config).forEach(LocalStorage::restrictFile);
                AuditLog audit = new AuditLog(db);
                Tenants tenants = new Tenants(db, new ApiKeys(db, audit, Duration.ZERO), audit);
                Tenants.NewOrg org = tenants.create(name, null);
                System.out.println("Created org '" + org.name() + "' with admin key " + org.adminKeyId()
                        + " (shown once):");
                System.out.println(org.adminSecret());
                return 0;
            } catch (ApiError e) {
                System.err.println("karta: " + e.getMessage());
                return e.kind() == ApiError.Kind.CONFLICT ? 1 : 2;
            }
        }
    }

    /**
     * {@code karta server rotate-secrets-key}: re-seals every stored secret with a new key and
     * replaces the key file, keeping the old one as {@code secrets.key.old}. Stop the servers first.
     */
    @Command(name = "rotate-secrets-key", mixinStandardHelpOptions = true,
            description = "Re-encrypt every stored secret (config vars, webhook secrets, repository credentials) "
                    + "with a new secrets key in one transaction, then replace --secrets-key-file with it, keeping "
                    + "the old key as secrets.key.old. Stop every server first; give every replica the new file.")
    static final class RotateSecretsKey implements Callable<Integer> {
        @CommandLine.ParentCommand
        Main parent;

        @Override
        public Integer call() throws Exception {
            Config config = parent.config();
            Optional<Path> sqlite = KartaServer.sqliteFile(config.databaseUrl());
            if (sqlite.isPresent() && !Files.exists(sqlite.get())) {
                System.err.println("karta: no database at " + sqlite.get() + ": nothing to rotate");
                return 1;
            }
            KartaServer.secureStorage(config);
            try (Database db = Database.open(config.databaseUrl())) {
                long resealed = new SecretsKeyRotation(System.out).rotate(db, config.secretsKeyFile());
                System.out.println("Re-encrypted " + resealed + " stored secrets with a new key in "
                        + config.secretsKeyFile() + "; the old key is kept as " + config.secretsKeyFile() + ".old.");
                System.out.println("Give every replica the new key file before starting it.");
                return 0;
            } catch (MigrationFailed | IllegalStateException e) {
                System.err.println("karta: " + e.getMessage());
                return 1;
            }
        }
    }

    /**
     * {@code karta server export --to FILE}: every table, release file and repository of the
     * installation named by the same {@code --data-dir}/{@code --database}/{@code --storage} as the
     * server, into one file. Stop the servers first.
     */
    @Command(name = "export", mixinStandardHelpOptions = true,
            description = "Write every table, release archive and tree and git repository of this installation "
                    + "into one file, with a manifest of digests (stop the servers first). Secrets stay encrypted: "
                    + "copy the secrets key file along, it is never part of the export.")
    static final class Export implements Callable<Integer> {
        @CommandLine.ParentCommand
        Main parent;

        @Option(names = "--to", required = true, paramLabel = "FILE", description = "the export file to write (a zip)")
        Path to;

        @Override
        public Integer call() throws Exception {
            Config config = parent.config();
            Optional<Path> sqlite = KartaServer.sqliteFile(config.databaseUrl());
            if (sqlite.isPresent() && !Files.exists(sqlite.get())) {
                System.err.println("karta: no database at " + sqlite.get() + ": nothing to export");
                return 1;
            }
            try (Database db = Database.open(config.databaseUrl()); Stores stores = Stores.of(config, db)) {
                new Migration(System.err).export(db, stores.files(), stores.repos(), to.toAbsolutePath());
                return 0;
            } catch (MigrationFailed e) {
                System.err.println("karta: " + e.getMessage());
                return 1;
            }
        }
    }

    /**
     * {@code karta server import FILE}: an export into the database and storage named by the same
     * flags as the server; verified by digests, and a no-op when run again.
     */
    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Put an export into this installation's database (SQLite or PostgreSQL, at the same schema "
                    + "version) and storage, in one transaction, then verify every table and file by digest. "
                    + "Running it again changes nothing. Copy the source's secrets key to --secrets-key-file.")
    static final class Import implements Callable<Integer> {
        @CommandLine.ParentCommand
        Main parent;

        @Parameters(index = "0", paramLabel = "FILE", description = "an export written by 'karta server export'")
        Path file;

        @Override
        public Integer call() throws Exception {
            Config config = parent.config();
            if (!Files.isRegularFile(file)) {
                System.err.println("karta: no export at " + file);
                return 1;
            }
            KartaServer.secureStorage(config);
            try (Database db = Database.open(config.databaseUrl()); Stores stores = Stores.of(config, db)) {
                new Migration(System.err).importFrom(file.toAbsolutePath(), db, stores.files(), stores.repos());
                if (!Files.exists(config.secretsKeyFile())) {
                    System.err.println("karta: warning: there is no secrets key at " + config.secretsKeyFile()
                            + ": copy the source installation's key file there before starting a server, or its "
                            + "webhook secrets and repository credentials cannot be read");
                }
                return 0;
            } catch (MigrationFailed e) {
                System.err.println("karta: " + e.getMessage());
                return 1;
            }
        }
    }

    /**
     * {@code karta server migrate-storage --to database}: the data dir's release files and
     * repositories into PostgreSQL storage, with the metadata moved from SQLite first when the
     * data dir holds it.
     */
    @Command(name = "migrate-storage", mixinStandardHelpOptions = true,
            description = "Copy a single node's data dir (release archives and trees, git repositories) into the "
                    + "PostgreSQL storage of --database, for servers run with --storage database; when the data dir "
                    + "holds a SQLite database (or --from-database names one), its tables are moved to --database "
                    + "first. What is already there is skipped; everything is verified at the end.")
    static final class MigrateStorage implements Callable<Integer> {
        @CommandLine.ParentCommand
        Main parent;

        @Option(names = "--to", required = true, paramLabel = "database",
                description = "where the storage goes: only 'database' (PostgreSQL)")
        String to;

        @Option(names = "--from-database", paramLabel = "JDBC_URL",
                description = "the database that holds the metadata now (default: the SQLite database in the data "
                        + "dir when there is one, else --database itself)")
        String fromDatabase;

        @Override
        public Integer call() throws Exception {
            if (!"database".equals(to)) {
                System.err.println("karta: --to must be 'database' (got '" + to + "')");
                return 2;
            }
            Config config = parent.config();
            if (Dialect.of(config.databaseUrl()) != Dialect.POSTGRES) {
                System.err.println("karta: migrate-storage --to database needs a PostgreSQL --database "
                        + "(jdbc:postgresql://…): that is where the storage goes");
                return 2;
            }
            String source = fromDatabase;
            Path sqlite = config.dataDir().resolve("karta.db");
            if ((source == null || source.isBlank()) && Files.exists(sqlite)) {
                source = Config.sqliteUrl(config.dataDir());
            }
            Path cache = Files.createTempDirectory("karta-migrate-cache");
            try (Database target = Database.open(config.databaseUrl());
                 Database from = source == null || source.isBlank() ? null : Database.open(source);
                 DatabaseStorage shared = DatabaseStorage.forCommand(target, new LocalStorage(cache, config.archive()))) {
                LocalStorage local = new LocalStorage(config.dataDir(), config.archive());
                new Migration(System.err).migrateStorage(from == null ? target : from, target, local.releaseFiles(),
                        local.repos(), shared.releaseFiles(), shared.repos());
                return 0;
            } catch (MigrationFailed e) {
                System.err.println("karta: " + e.getMessage());
                return 1;
            } finally {
                Materializer.deleteRecursively(cache);
            }
        }
    }

    /**
     * The release files and repositories a server with {@code config} would use: the database's
     * (the data dir its cache) with {@code --storage database}, the default with PostgreSQL; the
     * data dir's with {@code --storage local}, always so with SQLite.
     */
    private record Stores(ReleaseFiles files, RepoStore repos, DatabaseStorage shared) implements AutoCloseable {
        static Stores of(Config config, Database db) {
            LocalStorage local = new LocalStorage(config.dataDir(), config.archive());
            if (config.storage() == Config.Storage.DATABASE) {
                DatabaseStorage shared = DatabaseStorage.forCommand(db, local);
                return new Stores(shared.releaseFiles(), shared.repos(), shared);
            }
            return new Stores(local.releaseFiles(), local.repos(), null);
        }

        @Override
        public void close() {
            if (shared != null) {
                shared.close();
            }
        }
    }

    /**
     * An argv given as one setting: a JSON array of strings when it starts with {@code [} (so an
     * argument may hold spaces), else words separated by whitespace (the older form, kept for
     * compatibility). Null or blank is an empty argv.
     */
    static List<String> argv(String option, String value) {
        if (value == null || value.isBlank()) {
            return List.of();
        }
        String text = value.strip();
        if (!text.startsWith("[")) {
            return List.of(text.split("\\s+"));
        }
        JsonNode array;
        try {
            array = new ObjectMapper().readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(option + " is not a valid JSON array: " + e.getOriginalMessage());
        }
        List<String> argv = new ArrayList<>();
        for (JsonNode element : array) {
            if (!element.isTextual()) {
                throw new IllegalArgumentException(option + " as JSON must be an array of strings, e.g. "
                        + "[\"docker\",\"build\",\"{context}\"]");
            }
            argv.add(element.asText());
        }
        if (!array.isArray() || argv.isEmpty() || argv.get(0).isBlank()) {
            throw new IllegalArgumentException(option + " as JSON must be a non-empty array of strings whose first "
                    + "element is the executable");
        }
        return List.copyOf(argv);
    }

    /** Parses {@code 90s}, {@code 10m}, {@code 2h} or an ISO-8601 duration. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return Durations.parse(value);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"karta server " + (version == null ? "dev" : version)};
        }
    }

    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            System.err.println("karta: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        int code = cli.execute(args);
        if (code != 0 || cli.getParseResult() == null || cli.getParseResult().subcommand() != null
                || cli.getParseResult().isUsageHelpRequested() || cli.getParseResult().isVersionHelpRequested()) {
            System.exit(code);
        }
    }
}
