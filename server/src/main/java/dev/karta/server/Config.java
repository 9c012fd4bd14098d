package dev.karta.server;

import dev.karta.api.Durations;
import dev.karta.server.http.ClientAddress;
import dev.karta.server.process.Sandbox;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Every server setting, validated once at start-up. {@link Main} fills it from flags, then
 * {@code KARTA_*} environment variables, then defaults; nothing else reads the environment. Every
 * default lives here: the {@code DEFAULT_*} constants (in the form the flags take them, so
 * {@link Main} falls back to and shows the same values) and {@link Builder}'s starting values.
 * Build one with {@link #builder(Path)}.
 *
 * @param publicUrl     base of every URL the server hands out, without a trailing slash; null
 *                      means {@code http://{bind}:{port}} with the port actually bound
 * @param keyCacheTtl   how long a validated key is trusted without a database look-up
 * @param maxJsonBody   the largest JSON request body accepted
 * @param archive       limits every source archive must respect
 * @param buildWorkers  builds that may run at once on this server (each for a different project)
 * @param buildTimeout  a build running longer is failed
 * @param builderCommand an image builder to run for dockerfile/buildpack releases, or empty
 * @param keepReleases  release trees to keep per project (0 keeps all); the active one and the
 *                      one before it are always kept
 * @param buildLease    a building deploy whose server has not renewed its lease for this long is
 *                      taken as interrupted and retried (or failed)
 * @param repos         how bound repositories are fetched (GitHub API, token, ssh), the webhook cap
 * @param logs          retention of project logs and the limits of live log streams
 * @param sessions      how sessions run their harness
 * @param limits        per-org quotas and fairness (projects, sessions, turns, builds, key checks)
 * @param secretsKeyFile the AES key that encrypts secrets at rest (webhook secrets, repository
 *                      credentials); null means {@code secrets.key} in the data dir, created with
 *                      mode 0600 on first start
 * @param sandbox       how harnesses are contained (bubblewrap or none), their network, and the
 *                      host paths they may read
 * @param workspaces    where sessions' workspaces live and how much of the disk and store they may use
 * @param storage       where release files and git repositories are kept: the data dir, or the
 *                      PostgreSQL database (then the data dir is only a cache any replica may lose)
 * @param trustedProxies load balancers (addresses or CIDR ranges) whose X-Forwarded-For names the
 *                      client, for the audit log and the window of failed key checks
 * @param webhooks      event webhooks out: outbound address rules, endpoints per org, delivery schedule
 * @param oidc          keyless CI: the GitHub Actions OIDC issuer trusted, and the limits of token exchange
 * @param cacheWarmUp   with database storage, how long a starting server may stay unready while it
 *                      fetches the active releases' files into its cache (zero: no fetching ahead
 *                      of sessions at all, neither then nor of releases other servers activate)
 */
public record Config(
        String bind,
        int port,
        Path dataDir,
        String databaseUrl,
        String publicUrl,
        String bootstrapKey,
        Duration keyCacheTtl,
        long maxJsonBody,
        ArchiveLimits archive,
        int buildWorkers,
        Duration buildTimeout,
        List<String> builderCommand,
        int keepReleases,
        Duration buildLease,
        Repos repos,
        Logs logs,
        SessionSettings sessions,
        Limits limits,
        Path secretsKeyFile,
        Sandbox.Settings sandbox,
        Workspaces workspaces,
        Storage storage,
        List<String> trustedProxies,
        Previews previews,
        Webhooks webhooks,
        Oidc oidc,
        Duration cacheWarmUp) {

    static final String DEFAULT_BIND = "127.0.0.1";
    static final int DEFAULT_PORT = 7070;
    static final int DEFAULT_BUILD_WORKERS = 2;
    static final String DEFAULT_BUILD_TIMEOUT = "10m";
    static final String DEFAULT_BUILD_LEASE = "30s";
    /** Housekeeping renews leases every third of the lease, and runs at most every 200 ms. */
    static final Duration MIN_BUILD_LEASE = Duration.ofSeconds(1);
    static final int DEFAULT_KEEP_RELEASES = 0;
    static final String DEFAULT_CACHE_WARM_UP = "30s";

    /**
     * Bound repositories: the GitHub REST API that serves tarballs (GitHub Enterprise or a test
     * server can stand in; operator configuration, so trusted), the operator's token and the only
     * repository owners it may be sent for, the ssh client argv used to fetch {@code ssh://} and
     * {@code user@host:path} URLs (like git's {@code GIT_SSH_COMMAND}), the largest webhook payload,
     * the URL prefixes the operator allows even though they point at loopback, private or file
     * addresses, and the time limits of every outbound fetch.
     *
     * @param githubTokenOwners owners (lower case) whose repositories may be fetched with
     *                          {@code githubToken}; every other binding brings its own credential
     *                          or is fetched anonymously
     * @param allowRepoUrls     URL prefixes exempt from the private-address and scheme checks
     * @param connectTimeout    the longest a TCP connect to a repository host may take
     * @param readTimeout       the longest a fetch may wait for its next byte
     * @param fetchDeadline     the longest one whole fetch may take; then its connection is closed
     * @param resolveTimeout    the longest a request waits to resolve a short commit SHA before
     *                          answering 202 and resolving it in the build
     */
    public record Repos(String githubApiUrl, String githubToken, List<String> sshCommand, long maxWebhookBytes,
                        Set<String> githubTokenOwners, List<String> allowRepoUrls, Duration connectTimeout,
                        Duration readTimeout, Duration fetchDeadline, Duration resolveTimeout) {
        public static final String DEFAULT_GITHUB_API_URL = "https://api.github.com";
        static final String DEFAULT_SSH_COMMAND = "ssh";
        /** GitHub's own cap: it sends no delivery larger than 25 MiB. */
        static final long DEFAULT_MAX_WEBHOOK_BYTES = 25L << 20;
        static final String DEFAULT_CONNECT_TIMEOUT = "10s";
        static final String DEFAULT_READ_TIMEOUT = "30s";
        static final String DEFAULT_FETCH_DEADLINE = "5m";
        public static final Repos DEFAULTS =
                new Repos(DEFAULT_GITHUB_API_URL, null, List.of(DEFAULT_SSH_COMMAND), DEFAULT_MAX_WEBHOOK_BYTES);

        public Repos {
            githubApiUrl = githubApiUrl == null || githubApiUrl.isBlank() ? DEFAULT_GITHUB_API_URL : githubApiUrl.trim();
            while (githubApiUrl.endsWith("/")) {
                githubApiUrl = githubApiUrl.substring(0, githubApiUrl.length() - 1);
            }
            if (!githubApiUrl.startsWith("http://") && !githubApiUrl.startsWith("https://")) {
                throw new IllegalArgumentException("--github-api-url must start with http:// or https://, got "
                        + githubApiUrl);
            }
            if (githubToken != null && githubToken.isBlank()) {
                githubToken = null;
            }
            sshCommand = sshCommand == null || sshCommand.isEmpty() ? List.of(DEFAULT_SSH_COMMAND)
                    : List.copyOf(sshCommand);
            if (maxWebhookBytes <= 0) {
                throw new IllegalArgumentException("--max-webhook-bytes must be positive");
            }
            Set<String> owners = new LinkedHashSet<>();
            for (String owner : githubTokenOwners == null ? Set.<String>of() : githubTokenOwners) {
                if (owner != null && !owner.isBlank()) {
                    owners.add(owner.trim().toLowerCase(Locale.ROOT));
                }
            }
            githubTokenOwners = Set.copyOf(owners);
            List<String> prefixes = new ArrayList<>();
            for (String prefix : allowRepoUrls == null ? List.<String>of() : allowRepoUrls) {
                if (prefix != null && !prefix.isBlank()) {
                    prefixes.add(prefix.trim());
                }
            }
            allowRepoUrls = List.copyOf(prefixes);
            connectTimeout = positive(connectTimeout, Durations.parse(DEFAULT_CONNECT_TIMEOUT),
                    "--repo-connect-timeout");
            readTimeout = positive(readTimeout, Durations.parse(DEFAULT_READ_TIMEOUT), "--repo-read-timeout");
            fetchDeadline = positive(fetchDeadline, Durations.parse(DEFAULT_FETCH_DEADLINE), "--repo-fetch-deadline");
            resolveTimeout = positive(resolveTimeout, Duration.ofSeconds(5), "the commit resolve timeout");
        }

        /**
         * The API, token, ssh client and webhook cap; token owners, allowed URL prefixes and time
         * limits take their defaults.
         */
        public Repos(String githubApiUrl, String githubToken, List<String> sshCommand, long maxWebhookBytes) {
            this(githubApiUrl, githubToken, sshCommand, maxWebhookBytes, Set.of(), List.of(), null, null, null, null);
        }

        /** These settings with other owners for the operator token and other allowed URL prefixes. */
        public Repos withAllowed(Set<String> tokenOwners, List<String> allowedPrefixes) {
            return new Repos(githubApiUrl, githubToken, sshCommand, maxWebhookBytes, tokenOwners, allowedPrefixes,
                    connectTimeout, readTimeout, fetchDeadline, resolveTimeout);
        }

        /** These settings with other outbound time limits. */
        public Repos withTimeouts(Duration connect, Duration read, Duration deadline, Duration resolve) {
            return new Repos(githubApiUrl, githubToken, sshCommand, maxWebhookBytes, githubTokenOwners, allowRepoUrls,
                    connect, read, deadline, resolve);
        }

        /** Never prints the token. */
        @Override
        public String toString() {
            return "Repos[githubApiUrl=" + githubApiUrl + ", githubToken=" + (githubToken == null ? "none" : "***")
                    + ", githubTokenOwners=" + githubTokenOwners + ", sshCommand=" + sshCommand
                    + ", maxWebhookBytes=" + maxWebhookBytes + ", allowRepoUrls=" + allowRepoUrls
                    + ", connectTimeout=" + connectTimeout + ", readTimeout=" + readTimeout
                    + ", fetchDeadline=" + fetchDeadline + ", resolveTimeout=" + resolveTimeout + "]";
        }
    }

    /**
     * Per-org limits, so that one tenant cannot use up what every tenant shares. A request over a
     * limit is answered 429 with {@code Retry-After}.
     *
     * @param maxProjectsPerOrg       projects one org may have
     * @param maxLiveSessionsPerOrg   sessions of one org that are not ended
     * @param maxTurnsPerOrg          turns of one org running at once
     * @param maxQueuedDeploysPerOrg  deploys of one org queued and not yet building
     * @param maxBuildsPerOrg         builds of one org running at once, counted in the database over
     *                                every replica; an org at its share waits even when a worker is
     *                                idle, so another org always finds one free. 0 means half the
     *                                build workers, at least 1
     * @param keyFailuresPerPrefix    failed key checks per key prefix per minute before that prefix
     *                                is answered 401 without running bcrypt until the minute passes
     * @param keyFailuresPerAddress   failed key checks per client address per minute, likewise
     */
    public record Limits(int maxProjectsPerOrg, int maxLiveSessionsPerOrg, int maxTurnsPerOrg,
                         int maxQueuedDeploysPerOrg, int maxBuildsPerOrg, int keyFailuresPerPrefix,
                         int keyFailuresPerAddress) {
        static final int DEFAULT_MAX_PROJECTS_PER_ORG = 100;
        static final int DEFAULT_MAX_LIVE_SESSIONS_PER_ORG = 100;
        static final int DEFAULT_MAX_TURNS_PER_ORG = 8;
        static final int DEFAULT_MAX_QUEUED_DEPLOYS_PER_ORG = 50;
        static final int DEFAULT_MAX_BUILDS_PER_ORG = 0;
        public static final Limits DEFAULTS = new Limits(DEFAULT_MAX_PROJECTS_PER_ORG, DEFAULT_MAX_LIVE_SESSIONS_PER_ORG,
                DEFAULT_MAX_TURNS_PER_ORG, DEFAULT_MAX_QUEUED_DEPLOYS_PER_ORG, DEFAULT_MAX_BUILDS_PER_ORG, 5, 30);

        public Limits {
            if (maxProjectsPerOrg < 1 || maxLiveSessionsPerOrg < 1 || maxTurnsPerOrg < 1 || maxQueuedDeploysPerOrg < 1) {
                throw new IllegalArgumentException("per-org limits (--max-projects-per-org, --max-sessions-per-org, "
                        + "--max-turns-per-org, --max-queued-deploys-per-org) must be at least 1");
            }
            if (maxBuildsPerOrg < 0) {
                throw new IllegalArgumentException("--max-builds-per-org must be 0 (half the workers) or more");
            }
            if (keyFailuresPerPrefix < 1 || keyFailuresPerAddress < 1) {
                throw new IllegalArgumentException("key failure thresholds must be at least 1");
            }
        }

        /** Builds one org may run at once given {@code workers} build workers. */
        public int buildsPerOrg(int workers) {
            return maxBuildsPerOrg > 0 ? Math.min(maxBuildsPerOrg, workers) : Math.max(1, workers / 2);
        }
    }

    /**
     * Project logs (docs/logs.md). Entries older than {@code retention}, and all but the newest
     * {@code maxEntries} of a project, are pruned every {@code pruneEvery}. A live stream sends a
     * heartbeat comment every {@code heartbeat}; a client that falls {@code streamBuffer} bytes
     * behind is disconnected.
     */
    public record Logs(Duration retention, int maxEntries, Duration pruneEvery, Duration heartbeat,
                       int streamBuffer) {
        static final String DEFAULT_RETENTION = "7d";
        static final int DEFAULT_MAX_ENTRIES = 100_000;
        public static final Logs DEFAULTS = new Logs(Durations.parse(DEFAULT_RETENTION), DEFAULT_MAX_ENTRIES,
                Duration.ofMinutes(1), Duration.ofSeconds(15), 256 << 10);

        public Logs {
            Objects.requireNonNull(retention, "retention");
            Objects.requireNonNull(pruneEvery, "pruneEvery");
            Objects.requireNonNull(heartbeat, "heartbeat");
            if (retention.isNegative() || retention.isZero()) {
                throw new IllegalArgumentException("--log-retention must be positive, got " + retention);
            }
            if (maxEntries < 1) {
                throw new IllegalArgumentException("--log-max-entries must be at least 1, got " + maxEntries);
            }
            if (pruneEvery.toMillis() < 1 || heartbeat.toMillis() < 1) {
                throw new IllegalArgumentException("log prune and heartbeat periods must be positive");
            }
            if (streamBuffer < 1024) {
                throw new IllegalArgumentException("log stream buffer must be at least 1024 bytes, got " + streamBuffer);
            }
        }

        public Logs withRetention(Duration newRetention, int newMaxEntries) {
            return new Logs(newRetention, newMaxEntries, pruneEvery, heartbeat, streamBuffer);
        }
    }

    /**
     * Named limits for untrusted archives: the compressed and expanded size, the number of members,
     * and the length and depth of a member's path.
     */
    public record ArchiveLimits(long maxCompressedBytes, long maxExpandedBytes, int maxEntries,
                                int maxPathBytes, int maxPathDepth) {
        static final long DEFAULT_MAX_COMPRESSED_BYTES = 64L << 20;
        static final long DEFAULT_MAX_EXPANDED_BYTES = 256L << 20;
        static final int DEFAULT_MAX_ENTRIES = 10_000;
        static final int DEFAULT_MAX_PATH_BYTES = 1024;
        static final int DEFAULT_MAX_PATH_DEPTH = 32;
        public static final ArchiveLimits DEFAULTS = new ArchiveLimits(DEFAULT_MAX_COMPRESSED_BYTES,
                DEFAULT_MAX_EXPANDED_BYTES, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_PATH_BYTES, DEFAULT_MAX_PATH_DEPTH);

        public ArchiveLimits {
            if (maxCompressedBytes <= 0 || maxExpandedBytes <= 0 || maxEntries <= 0 || maxPathBytes <= 0
                    || maxPathDepth <= 0) {
                throw new IllegalArgumentException("archive limits must be positive");
            }
        }
    }

    /**
     * How sessions run their harness (docs/sessions.md).
     *
     * @param claudeExecutable   Claude Code: a path, or a name looked up on PATH
     * @param opencodeExecutable OpenCode: a path, or a name looked up on PATH
     * @param idleTimeout        a session with no turn for this long ends
     * @param turnTimeout        a turn running longer is killed with its children (504)
     * @param maxConcurrentTurns turns this server runs at once; more answer 503
     * @param maxMessageBytes    the longest message text in UTF-8 bytes (it reaches the harness on
     *                           its stdin), at most {@value #MAX_MESSAGE_BYTES}
     * @param maxTurnOutputBytes the most a harness may print on stdout in one turn
     * @param harnessEnvironment the whole environment of a harness process: never server secrets,
     *                           never {@code KARTA_*}
     */
    public record SessionSettings(String claudeExecutable, String opencodeExecutable, Duration idleTimeout,
                                  Duration turnTimeout, int maxConcurrentTurns, int maxMessageBytes,
                                  long maxTurnOutputBytes, Map<String, String> harnessEnvironment) {
        /** Variables a harness inherits from the server's environment unless told otherwise. */
        public static final List<String> INHERITED = List.of("PATH", "HOME", "LANG");
        /** The highest message limit: a turn holds its message in memory until the harness read it. */
        static final int MAX_MESSAGE_BYTES = 4 << 20;
        static final int DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;
        static final String DEFAULT_CLAUDE = "claude";
        static final String DEFAULT_OPENCODE = "opencode";
        static final String DEFAULT_IDLE_TIMEOUT = "30m";
        static final String DEFAULT_TURN_TIMEOUT = "5m";
        static final int DEFAULT_MAX_CONCURRENT_TURNS = 16;

        public SessionSettings {
            if (claudeExecutable == null || claudeExecutable.isBlank()
                    || opencodeExecutable == null || opencodeExecutable.isBlank()) {
                throw new IllegalArgumentException("--harness-claude and --harness-opencode must not be empty");
            }
            if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
                throw new IllegalArgumentException("--session-idle-timeout must be positive");
            }
            if (turnTimeout == null || turnTimeout.isNegative() || turnTimeout.isZero()) {
                throw new IllegalArgumentException("--turn-timeout must be positive");
            }
            if (maxConcurrentTurns < 1) {
                throw new IllegalArgumentException("--max-concurrent-turns must be at least 1");
            }
            if (maxMessageBytes < 1 || maxMessageBytes > MAX_MESSAGE_BYTES) {
                throw new IllegalArgumentException("the message limit must be between 1 and " + MAX_MESSAGE_BYTES
                        + " bytes");
            }
            if (maxTurnOutputBytes < 1) {
                throw new IllegalArgumentException("the turn output limit must be positive");
            }
            harnessEnvironment = Map.copyOf(harnessEnvironment == null ? Map.of() : harnessEnvironment);
            for (String name : harnessEnvironment.keySet()) {
                if (name.toUpperCase(Locale.ROOT).startsWith("KARTA_")) {
                    throw new IllegalArgumentException("--harness-env must not pass " + name
                            + " on: KARTA_* settings stay with the server");
                }
            }
        }

        public static SessionSettings defaults() {
            return new SessionSettings(DEFAULT_CLAUDE, DEFAULT_OPENCODE, Durations.parse(DEFAULT_IDLE_TIMEOUT),
                    Durations.parse(DEFAULT_TURN_TIMEOUT), DEFAULT_MAX_CONCURRENT_TURNS, DEFAULT_MAX_MESSAGE_BYTES,
                    16L << 20, inheritedEnvironment(List.of()));
        }

        /**
         * The harness environment: {@link #INHERITED} plus {@code extraNames}, each with its value in
         * the server's environment when it has one.
         */
        public static Map<String, String> inheritedEnvironment(List<String> extraNames) {
            Map<String, String> env = new LinkedHashMap<>();
            for (String name : INHERITED) {
                String value = System.getenv(name);
                if (value != null) {
                    env.put(name, value);
                }
            }
            for (String name : extraNames == null ? List.<String>of() : extraNames) {
                String value = name.isBlank() ? null : System.getenv(name.trim());
                if (value != null) {
                    env.put(name.trim(), value);
                }
            }
            return env;
        }
    }

    /**
     * Sessions' workspaces (docs/sessions.md): each session's copy of its release tree and its HOME,
     * kept on this machine, and the harness state saved in the store after each turn.
     *
     * @param dir               where workspaces live; null means {@code workspaces} in the data dir
     * @param maxWorkspaceBytes a session whose workspace and HOME hold more after a turn is refused
     *                          further turns (409 {@code workspace_quota_exceeded})
     * @param maxWorkspaces     workspaces kept on this machine; beyond it the least recently used
     *                          idle one is released (its saved state stays in the store)
     * @param maxStateBytes     the largest saved harness state (the HOME, compressed); a larger one
     *                          is not saved, with a warning in the project's log
     * @param copies            each workspace a full copy of its tree even where the sandbox can
     *                          mount overlays (slower to prepare, larger on disk)
     */
    public record Workspaces(Path dir, long maxWorkspaceBytes, int maxWorkspaces, long maxStateBytes, boolean copies) {
        static final long DEFAULT_MAX_WORKSPACE_BYTES = 1L << 30;
        static final int DEFAULT_MAX_WORKSPACES = 200;
        static final long DEFAULT_MAX_STATE_BYTES = 64L << 20;
        public static final Workspaces DEFAULTS = new Workspaces(null, DEFAULT_MAX_WORKSPACE_BYTES,
                DEFAULT_MAX_WORKSPACES, DEFAULT_MAX_STATE_BYTES, false);

        public Workspaces {
            if (maxWorkspaceBytes < 1 || maxWorkspaces < 1 || maxStateBytes < 1) {
                throw new IllegalArgumentException("--max-workspace-bytes, --max-workspaces and "
                        + "--max-session-state-bytes must be at least 1");
            }
        }

        /** The workspaces folder for a server whose data dir is {@code dataDir}. */
        public Path dirIn(Path dataDir) {
            return dir != null ? dir : dataDir.resolve("workspaces");
        }
    }

    public Config {
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(databaseUrl, "databaseUrl");
        Objects.requireNonNull(archive, "archive");
        logs = logs == null ? Logs.DEFAULTS : logs;
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
        }
        if (publicUrl != null && publicUrl.isBlank()) {
            publicUrl = null;
        }
        if (publicUrl != null) {
            while (publicUrl.endsWith("/")) {
                publicUrl = publicUrl.substring(0, publicUrl.length() - 1);
            }
            if (!publicUrl.startsWith("http://") && !publicUrl.startsWith("https://")) {
                throw new IllegalArgumentException("--public-url must start with http:// or https://, got " + publicUrl);
            }
        }
        if (buildWorkers < 1) {
            throw new IllegalArgumentException("--build-workers must be at least 1");
        }
        if (buildLease == null || buildLease.compareTo(MIN_BUILD_LEASE) < 0) {
            throw new IllegalArgumentException("--build-lease must be at least " + MIN_BUILD_LEASE.toSeconds() + "s");
        }
        if (keepReleases < 0) {
            throw new IllegalArgumentException("--keep-releases must be 0 (keep all) or more");
        }
        if (cacheWarmUp == null || cacheWarmUp.isNegative()) {
            throw new IllegalArgumentException("--cache-warm-up must be 0s (off) or more");
        }
        builderCommand = builderCommand == null ? List.of() : List.copyOf(builderCommand);
        repos = repos == null ? Repos.DEFAULTS : repos;
        sessions = sessions == null ? SessionSettings.defaults() : sessions;
        limits = limits == null ? Limits.DEFAULTS : limits;
        previews = previews == null ? Previews.DEFAULTS : previews;
        workspaces = workspaces == null ? Workspaces.DEFAULTS : workspaces;
        secretsKeyFile = secretsKeyFile == null ? dataDir.resolve("secrets.key") : secretsKeyFile;
        sandbox = sandbox == null ? Sandbox.Settings.DEFAULTS : sandbox;
        boolean postgres = databaseUrl.toLowerCase(Locale.ROOT).startsWith("jdbc:postgresql:");
        storage = storage == null ? (postgres ? Storage.DATABASE : Storage.LOCAL) : storage;
        trustedProxies = trustedProxies == null ? List.of() : List.copyOf(trustedProxies);
        webhooks = webhooks == null ? Webhooks.DEFAULTS : webhooks;
        oidc = oidc == null ? Oidc.DEFAULTS : oidc;
        new ClientAddress(trustedProxies); // names a bad entry
        if (storage == Storage.DATABASE && !postgres) {
            throw new IllegalArgumentException("--storage database needs a PostgreSQL --database "
                    + "(jdbc:postgresql://…); with SQLite everything already lives on this machine: use --storage local");
        }
        if (bootstrapKey != null && bootstrapKey.isBlank()) {
            bootstrapKey = null;
        }
    }

    /**
     * Event webhooks out: whether endpoints may use plain {@code http://} and loopback, private or
     * link-local addresses (the operator's {@code --allow-private-webhooks}; tests use it), how
     * many endpoints an org may have, and the delivery schedule: the wait after each failed
     * attempt (the last one repeats), the window after which a delivery is given up and its
     * endpoint disabled, the timeout of one attempt, how often the worker looks for due deliveries
     * and how long a claimed delivery stays with the server attempting it.
     */
    public record Webhooks(boolean allowPrivate, int maxEndpointsPerOrg, List<Duration> retryDelays,
                           Duration retryWindow, Duration timeout, Duration pollInterval, Duration lease) {
        public static final int DEFAULT_MAX_ENDPOINTS_PER_ORG = 20;
        public static final Webhooks DEFAULTS = new Webhooks(false, DEFAULT_MAX_ENDPOINTS_PER_ORG,
                List.of(Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofMinutes(2), Duration.ofMinutes(10),
                        Duration.ofHours(1), Duration.ofHours(6)),
                Duration.ofDays(3), Duration.ofSeconds(10), Duration.ofSeconds(1), Duration.ofSeconds(60));

        public Webhooks {
            if (maxEndpointsPerOrg <= 0) {
                throw new IllegalArgumentException("--max-webhook-endpoints must be positive");
            }
            retryDelays = retryDelays == null || retryDelays.isEmpty() ? DEFAULTS.retryDelays() : List.copyOf(retryDelays);
            retryWindow = positive(retryWindow, Duration.ofDays(3), "webhook retry window");
            timeout = positive(timeout, Duration.ofSeconds(10), "webhook timeout");
            pollInterval = positive(pollInterval, Duration.ofSeconds(1), "webhook poll interval");
            lease = positive(lease, Duration.ofSeconds(60), "webhook lease");
            if (lease.compareTo(timeout) <= 0) {
                throw new IllegalArgumentException("the webhook lease must be longer than the webhook timeout");
            }
        }

        public Webhooks withAllowPrivate(boolean allow) {
            return new Webhooks(allow, maxEndpointsPerOrg, retryDelays, retryWindow, timeout, pollInterval, lease);
        }

        public Webhooks withMaxEndpointsPerOrg(int max) {
            return new Webhooks(allowPrivate, max, retryDelays, retryWindow, timeout, pollInterval, lease);
        }

        /** This configuration with another delivery schedule: tests run it in seconds. */
        public Webhooks withSchedule(List<Duration> delays, Duration window, Duration attemptTimeout,
                                     Duration poll) {
            return new Webhooks(allowPrivate, maxEndpointsPerOrg, delays, window, attemptTimeout, poll,
                    attemptTimeout.plusSeconds(5));
        }
    }

    /**
     * Keyless CI (docs/ci.md): the OIDC issuer whose tokens are exchanged for short-lived keys
     * (GitHub Actions', or a stand-in: operator configuration, so trusted), and the named limits of
     * that exchange.
     *
     * @param githubIssuer        the {@code iss} every token must carry, and where its keys are
     *                            published ({@code /.well-known/openid-configuration}, then its
     *                            {@code jwks_uri}, else {@code /.well-known/jwks}); no trailing slash
     * @param keyLifetime         how long an exchanged key lives
     * @param clockSkew           leeway on a token's {@code exp}, {@code nbf} and {@code iat}
     * @param fetchTimeout        the longest a connect to the issuer, or a whole fetch of its
     *                            discovery document or key set, may take
     * @param maxDocumentBytes    the largest discovery document or key set read from the issuer
     * @param keysTtl             how long a fetched key set is used before it is fetched again
     * @param minRefetchInterval  a token signed by a key not in the cached set fetches the set
     *                            again at most this often (key rotation, without letting made-up
     *                            key ids hammer the issuer)
     * @param failuresPerAddress  refused exchanges per client address per minute before that
     *                            address is answered 429 until the minute passes
     * @param maxTokenBytes       the longest token accepted
     */
    public record Oidc(String githubIssuer, Duration keyLifetime, Duration clockSkew, Duration fetchTimeout,
                       long maxDocumentBytes, Duration keysTtl, Duration minRefetchInterval, int failuresPerAddress,
                       int maxTokenBytes) {
        public static final String DEFAULT_GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
        public static final Oidc DEFAULTS = new Oidc(DEFAULT_GITHUB_ISSUER, Duration.ofMinutes(15),
                Duration.ofSeconds(60), Duration.ofSeconds(10), 256 << 10, Duration.ofHours(1), Duration.ofMinutes(1),
                20, 16 << 10);

        public Oidc {
            githubIssuer = githubIssuer == null || githubIssuer.isBlank() ? DEFAULT_GITHUB_ISSUER : githubIssuer.trim();
            while (githubIssuer.endsWith("/")) {
                githubIssuer = githubIssuer.substring(0, githubIssuer.length() - 1);
            }
            if (!githubIssuer.startsWith("https://") && !githubIssuer.startsWith("http://")) {
                throw new IllegalArgumentException("--github-oidc-issuer must start with https:// (or http:// for a "
                        + "local stand-in), got " + githubIssuer);
            }
            keyLifetime = positive(keyLifetime, Duration.ofMinutes(15), "the CI key lifetime");
            clockSkew = clockSkew == null || clockSkew.isNegative() ? Duration.ofSeconds(60) : clockSkew;
            fetchTimeout = positive(fetchTimeout, Duration.ofSeconds(10), "the OIDC key fetch timeout");
            keysTtl = positive(keysTtl, Duration.ofHours(1), "the OIDC key set lifetime");
            minRefetchInterval = minRefetchInterval == null || minRefetchInterval.isNegative() ? Duration.ofMinutes(1)
                    : minRefetchInterval;
            if (maxDocumentBytes < 1024 || maxTokenBytes < 256 || failuresPerAddress < 1) {
                throw new IllegalArgumentException("OIDC limits must be positive (documents at least 1 KiB, tokens at "
                        + "least 256 bytes, at least 1 failure per address)");
            }
        }

        /** These settings with another issuer. */
        public Oidc withGithubIssuer(String issuer) {
            return new Oidc(issuer, keyLifetime, clockSkew, fetchTimeout, maxDocumentBytes, keysTtl,
                    minRefetchInterval, failuresPerAddress, maxTokenBytes);
        }

        /** These settings with another key lifetime, refetch interval and failure threshold: tests run them short. */
        public Oidc withLimits(Duration lifetime, Duration refetch, int failures) {
            return new Oidc(githubIssuer, lifetime, clockSkew, fetchTimeout, maxDocumentBytes, keysTtl, refetch,
                    failures, maxTokenBytes);
        }
    }

    /** This configuration with other keyless CI settings. */
    public Config withOidc(Oidc other) {
        return toBuilder().oidc(other).build();
    }

    /** This configuration with other webhook settings. */
    public Config withWebhooks(Webhooks other) {
        return toBuilder().webhooks(other).build();
    }

    /** This configuration with other bound-repository settings. */
    public Config withRepos(Repos other) {
        return toBuilder().repos(other).build();
    }

    /** This configuration with other log settings. */
    public Config withLogs(Logs other) {
        return toBuilder().logs(other).build();
    }

    /** This configuration with other session settings. */
    public Config withSessions(SessionSettings other) {
        return toBuilder().sessions(other).build();
    }

    /** This configuration with other per-org limits. */
    public Config withLimits(Limits other) {
        return toBuilder().limits(other).build();
    }

    /**
     * Preview releases (docs/previews.md): a preview expires {@code ttl} after its last push; a
     * project keeps at most {@code max} live previews (a push beyond expires the least recently
     * pushed); expiry is checked every {@code sweepEvery}.
     */
    public record Previews(Duration ttl, int max, Duration sweepEvery) {
        static final String DEFAULT_TTL = "7d";
        static final int DEFAULT_MAX = 10;
        public static final Previews DEFAULTS = new Previews(Durations.parse(DEFAULT_TTL), DEFAULT_MAX,
                Duration.ofMinutes(1));

        public Previews {
            if (ttl == null || ttl.isNegative() || ttl.isZero()) {
                throw new IllegalArgumentException("--preview-ttl must be positive");
            }
            if (max < 1) {
                throw new IllegalArgumentException("--max-previews must be at least 1");
            }
            sweepEvery = sweepEvery == null ? Duration.ofMinutes(1) : sweepEvery;
        }
    }

    /** This configuration with other preview settings. */
    public Config withPreviews(Previews other) {
        return toBuilder().previews(other).build();
    }

    /** This configuration with another build timeout. */
    public Config withBuildTimeout(Duration other) {
        return toBuilder().buildTimeout(other).build();
    }

    /** This configuration with another number of build workers. */
    public Config withBuildWorkers(int other) {
        return toBuilder().buildWorkers(other).build();
    }

    private static Duration positive(Duration value, Duration fallback, String name) {
        if (value == null) {
            return fallback;
        }
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
        return value;
    }

    /** Defaults for a data directory: what {@code karta server} runs with when given no flags. */
    public static Config defaults(Path dataDir) {
        return builder(dataDir).build();
    }

    /** Every default, for {@code dataDir}: set what differs, then {@link Builder#build()}. */
    public static Builder builder(Path dataDir) {
        return new Builder(dataDir);
    }

    /** A builder holding these settings, to build a configuration that differs in a few. */
    public Builder toBuilder() {
        return new Builder(dataDir).bind(bind).port(port).databaseUrl(databaseUrl).publicUrl(publicUrl)
                .bootstrapKey(bootstrapKey).keyCacheTtl(keyCacheTtl).maxJsonBody(maxJsonBody).archive(archive)
                .buildWorkers(buildWorkers).buildTimeout(buildTimeout).builderCommand(builderCommand)
                .keepReleases(keepReleases).buildLease(buildLease).repos(repos).logs(logs).sessions(sessions)
                .limits(limits).secretsKeyFile(secretsKeyFile).sandbox(sandbox).workspaces(workspaces)
                .storage(storage).trustedProxies(trustedProxies).previews(previews)
                .webhooks(webhooks).oidc(oidc).cacheWarmUp(cacheWarmUp);
    }

    /**
     * Where the durable bytes of releases and repositories live. {@code LOCAL}: the data dir of
     * one machine. {@code DATABASE}: PostgreSQL, so that any number of replicas share them.
     */
    public enum Storage {
        LOCAL, DATABASE;

        /** {@code local} or {@code database}, as the flag takes it; null or blank is null (the default). */
        public static Storage parse(String value) {
            if (value == null || value.isBlank()) {
                return null;
            }
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "local" -> LOCAL;
                case "database" -> DATABASE;
                default -> throw new IllegalArgumentException("--storage must be local or database, got '" + value + "'");
            };
        }
    }

    public static String sqliteUrl(Path dataDir) {
        return "jdbc:sqlite:" + dataDir.resolve("karta.db").toAbsolutePath();
    }

    /** The public base URL, given the port the server actually bound. */
    public String publicUrlFor(int boundPort) {
        return publicUrl != null ? publicUrl : "http://" + bind + ":" + boundPort;
    }

    /**
     * A configuration set one setting at a time; a setting never set keeps its default. The
     * database defaults to SQLite in the data dir, the secrets key to {@code secrets.key} there.
     */
    public static final class Builder {
        private final Path dataDir;
        private String bind = DEFAULT_BIND;
        private int port = DEFAULT_PORT;
        private String databaseUrl;
        private String publicUrl;
        private String bootstrapKey;
        private Duration keyCacheTtl = Duration.ofSeconds(5);
        private long maxJsonBody = 1L << 20;
        private ArchiveLimits archive = ArchiveLimits.DEFAULTS;
        private int buildWorkers = DEFAULT_BUILD_WORKERS;
        private Duration buildTimeout = Durations.parse(DEFAULT_BUILD_TIMEOUT);
        private List<String> builderCommand = List.of();
        private int keepReleases = DEFAULT_KEEP_RELEASES;
        private Previews previews = Previews.DEFAULTS;
        private Duration buildLease = Durations.parse(DEFAULT_BUILD_LEASE);
        private Repos repos = Repos.DEFAULTS;
        private Logs logs = Logs.DEFAULTS;
        private SessionSettings sessions;
        private Limits limits = Limits.DEFAULTS;
        private Path secretsKeyFile;
        private Sandbox.Settings sandbox;
        private Workspaces workspaces = Workspaces.DEFAULTS;
        private Storage storage;
        private List<String> trustedProxies = List.of();
        private Webhooks webhooks = Webhooks.DEFAULTS;
        private Oidc oidc = Oidc.DEFAULTS;
        private Duration cacheWarmUp = Durations.parse(DEFAULT_CACHE_WARM_UP);

        private Builder(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
        }

        public Builder bind(String value) {
            bind = value;
            return this;
        }

        public Builder port(int value) {
            port = value;
            return this;
        }

        /** A JDBC URL; null keeps SQLite in the data dir. */
        public Builder databaseUrl(String value) {
            databaseUrl = value;
            return this;
        }

        public Builder publicUrl(String value) {
            publicUrl = value;
            return this;
        }

        public Builder bootstrapKey(String value) {
            bootstrapKey = value;
            return this;
        }

        public Builder keyCacheTtl(Duration value) {
            keyCacheTtl = value;
            return this;
        }

        public Builder maxJsonBody(long value) {
            maxJsonBody = value;
            return this;
        }

        public Builder archive(ArchiveLimits value) {
            archive = value;
            return this;
        }

        public Builder buildWorkers(int value) {
            buildWorkers = value;
            return this;
        }

        public Builder buildTimeout(Duration value) {
            buildTimeout = value;
            return this;
        }

        public Builder builderCommand(List<String> value) {
            builderCommand = value;
            return this;
        }

        public Builder keepReleases(int value) {
            keepReleases = value;
            return this;
        }

        public Builder buildLease(Duration value) {
            buildLease = value;
            return this;
        }

        public Builder repos(Repos value) {
            repos = value;
            return this;
        }

        public Builder logs(Logs value) {
            logs = value;
            return this;
        }

        /** Session settings; null keeps {@link SessionSettings#defaults()}. */
        public Builder sessions(SessionSettings value) {
            sessions = value;
            return this;
        }

        public Builder limits(Limits value) {
            limits = value;
            return this;
        }

        /** The AES key file; null keeps {@code secrets.key} in the data dir. */
        public Builder secretsKeyFile(Path value) {
            secretsKeyFile = value;
            return this;
        }

        /** How harnesses are sandboxed; null keeps the strongest sandbox this host allows. */
        public Builder sandbox(Sandbox.Settings value) {
            sandbox = value;
            return this;
        }

        public Builder workspaces(Workspaces value) {
            workspaces = value;
            return this;
        }

        /** Where release files and repositories live; null keeps the database's default. */
        public Builder storage(Storage value) {
            storage = value;
            return this;
        }

        /** Load balancers whose X-Forwarded-For is believed; null or empty trusts none. */
        public Builder trustedProxies(List<String> value) {
            trustedProxies = value;
            return this;
        }

        public Builder previews(Previews value) {
            previews = value;
            return this;
        }

        public Builder webhooks(Webhooks value) {
            webhooks = value;
            return this;
        }

        public Builder oidc(Oidc value) {
            oidc = value;
            return this;
        }

        public Builder cacheWarmUp(Duration value) {
            cacheWarmUp = value;
            return this;
        }

        /** The configuration, validated: {@link IllegalArgumentException} names a bad setting. */
        public Config build() {
            return new Config(bind, port, dataDir, databaseUrl == null ? sqliteUrl(dataDir) : databaseUrl, publicUrl,
                    bootstrapKey, keyCacheTtl, maxJsonBody, archive, buildWorkers, buildTimeout, builderCommand,
                    keepReleases, buildLease, repos, logs, sessions, limits, secretsKeyFile, sandbox, workspaces, storage,
                    trustedProxies, previews, webhooks, oidc, cacheWarmUp);
        }
    }
}
