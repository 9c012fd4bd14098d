package dev.karta.server;

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
 * {@code KARTA_*} environment variables, then defaults; nothing else reads the environment.
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
 * @param sessions      how sessions run their harness (SPEC §6)
 * @param limits        per-org quotas and fairness (projects, sessions, turns, builds, key checks)
 * @param secretsKeyFile the AES key that encrypts secrets at rest (webhook secrets, repository
 *                      credentials); null means {@code secrets.key} in the data dir, created with
 *                      mode 0600 on first start
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
        Path secretsKeyFile) {

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
        public static final Repos DEFAULTS = new Repos(DEFAULT_GITHUB_API_URL, null, List.of("ssh"), 1L << 20);

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
            sshCommand = sshCommand == null || sshCommand.isEmpty() ? List.of("ssh") : List.copyOf(sshCommand);
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
            connectTimeout = positive(connectTimeout, Duration.ofSeconds(10), "--repo-connect-timeout");
            readTimeout = positive(readTimeout, Duration.ofSeconds(30), "--repo-read-timeout");
            fetchDeadline = positive(fetchDeadline, Duration.ofMinutes(5), "--repo-fetch-deadline");
            resolveTimeout = positive(resolveTimeout, Duration.ofSeconds(5), "the commit resolve timeout");
        }

        /** The first-wave settings; the issue-10 guards take their defaults. */
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
        public static final Limits DEFAULTS = new Limits(100, 100, 8, 50, 0, 5, 30);

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
     * Project logs (issue 6). Entries older than {@code retention}, and all but the newest
     * {@code maxEntries} of a project, are pruned every {@code pruneEvery}. A live stream sends a
     * heartbeat comment every {@code heartbeat}; a client that falls {@code streamBuffer} bytes
     * behind is disconnected.
     */
    public record Logs(Duration retention, int maxEntries, Duration pruneEvery, Duration heartbeat,
                       int streamBuffer) {
        public static final Logs DEFAULTS =
                new Logs(Duration.ofDays(7), 100_000, Duration.ofMinutes(1), Duration.ofSeconds(15), 256 << 10);

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

    /** Named limits for untrusted archives (SPEC §2.3). */
    public record ArchiveLimits(long maxCompressedBytes, long maxExpandedBytes, int maxEntries,
                                int maxPathBytes, int maxPathDepth) {
        public static final ArchiveLimits DEFAULTS =
                new ArchiveLimits(64L << 20, 256L << 20, 10_000, 1024, 32);

        public ArchiveLimits {
            if (maxCompressedBytes <= 0 || maxExpandedBytes <= 0 || maxEntries <= 0 || maxPathBytes <= 0
                    || maxPathDepth <= 0) {
                throw new IllegalArgumentException("archive limits must be positive");
            }
        }
    }

    /**
     * How sessions run their harness (SPEC §6).
     *
     * @param claudeExecutable   Claude Code: a path, or a name looked up on PATH
     * @param opencodeExecutable OpenCode: a path, or a name looked up on PATH
     * @param idleTimeout        a session with no turn for this long ends
     * @param turnTimeout        a turn running longer is killed with its children (504)
     * @param maxConcurrentTurns turns this server runs at once; more answer 503
     * @param maxMessageBytes    the longest message text in UTF-8 bytes: it reaches the harness as
     *                           one argv entry, which Linux caps at 128 KiB (MAX_ARG_STRLEN)
     * @param maxTurnOutputBytes the most a harness may print on stdout in one turn
     * @param harnessEnvironment the whole environment of a harness process: never server secrets,
     *                           never {@code KARTA_*}
     */
    public record SessionSettings(String claudeExecutable, String opencodeExecutable, Duration idleTimeout,
                                  Duration turnTimeout, int maxConcurrentTurns, int maxMessageBytes,
                                  long maxTurnOutputBytes, Map<String, String> harnessEnvironment) {
        /** Variables a harness inherits from the server's environment unless told otherwise. */
        public static final List<String> INHERITED = List.of("PATH", "HOME", "LANG");
        static final int MAX_ARG_BYTES = 128 * 1024 - 1;

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
            if (maxMessageBytes < 1 || maxMessageBytes > MAX_ARG_BYTES) {
                throw new IllegalArgumentException("the message limit must be between 1 and " + MAX_ARG_BYTES
                        + " bytes (one argv entry)");
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
            return new SessionSettings("claude", "opencode", Duration.ofMinutes(30), Duration.ofMinutes(5), 16,
                    100_000, 16L << 20, inheritedEnvironment(List.of()));
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
        if (keepReleases < 0) {
            throw new IllegalArgumentException("--keep-releases must be 0 (keep all) or more");
        }
        builderCommand = builderCommand == null ? List.of() : List.copyOf(builderCommand);
        repos = repos == null ? Repos.DEFAULTS : repos;
        sessions = sessions == null ? SessionSettings.defaults() : sessions;
        limits = limits == null ? Limits.DEFAULTS : limits;
        secretsKeyFile = secretsKeyFile == null ? dataDir.resolve("secrets.key") : secretsKeyFile;
        if (bootstrapKey != null && bootstrapKey.isBlank()) {
            bootstrapKey = null;
        }
    }

    /**
     * Every top-level setting; the grouped ones ({@link Repos}, {@link Logs}, {@link SessionSettings})
     * take their defaults.
     */
    public Config(String bind, int port, Path dataDir, String databaseUrl, String publicUrl, String bootstrapKey,
                  Duration keyCacheTtl, long maxJsonBody, ArchiveLimits archive, int buildWorkers, Duration buildTimeout,
                  List<String> builderCommand, int keepReleases, Duration buildLease) {
        this(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive, buildWorkers,
                buildTimeout, builderCommand, keepReleases, buildLease, Repos.DEFAULTS, Logs.DEFAULTS,
                SessionSettings.defaults(), Limits.DEFAULTS, null);
    }

    /** This configuration with other bound-repository settings. */
    public Config withRepos(Repos other) {
        return new Config(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive,
                buildWorkers, buildTimeout, builderCommand, keepReleases, buildLease, other, logs, sessions, limits,
                secretsKeyFile);
    }

    /** This configuration with other log settings. */
    public Config withLogs(Logs other) {
        return new Config(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive,
                buildWorkers, buildTimeout, builderCommand, keepReleases, buildLease, repos, other, sessions, limits,
                secretsKeyFile);
    }

    /** This configuration with other session settings. */
    public Config withSessions(SessionSettings other) {
        return new Config(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive,
                buildWorkers, buildTimeout, builderCommand, keepReleases, buildLease, repos, logs, other, limits,
                secretsKeyFile);
    }

    /** This configuration with other per-org limits. */
    public Config withLimits(Limits other) {
        return new Config(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive,
                buildWorkers, buildTimeout, builderCommand, keepReleases, buildLease, repos, logs, sessions, other,
                secretsKeyFile);
    }

    /** This configuration with another build timeout. */
    public Config withBuildTimeout(Duration other) {
        return new Config(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive,
                buildWorkers, other, builderCommand, keepReleases, buildLease, repos, logs, sessions, limits,
                secretsKeyFile);
    }

    /** This configuration with another number of build workers. */
    public Config withBuildWorkers(int other) {
        return new Config(bind, port, dataDir, databaseUrl, publicUrl, bootstrapKey, keyCacheTtl, maxJsonBody, archive,
                other, buildTimeout, builderCommand, keepReleases, buildLease, repos, logs, sessions, limits,
                secretsKeyFile);
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
        return new Config("127.0.0.1", 7070, dataDir, sqliteUrl(dataDir), null, null, Duration.ofSeconds(5),
                1L << 20, ArchiveLimits.DEFAULTS, 2, Duration.ofMinutes(10), List.of(), 0, Duration.ofSeconds(30));
    }

    public static String sqliteUrl(Path dataDir) {
        return "jdbc:sqlite:" + dataDir.resolve("karta.db").toAbsolutePath();
    }

    /** The public base URL, given the port the server actually bound. */
    public String publicUrlFor(int boundPort) {
        return publicUrl != null ? publicUrl : "http://" + bind + ":" + boundPort;
    }
}
