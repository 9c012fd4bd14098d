package dev.karta.server.repos;

import dev.karta.server.http.ApiError;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A repository URL as a user gave it, normalised. GitHub repositories, in any of the forms
 * {@code https://github.com/o/r}, {@code https://github.com/o/r.git}, {@code git@github.com:o/r.git}
 * or {@code o/r}, become {@code https://github.com/o/r} and are fetched through the tarball API.
 * Any other URL ({@code https://…}, {@code http://…}, {@code ssh://…}, {@code git://…},
 * {@code file:///…}, {@code user@host:path}) is kept as a git URL, and so is a github.com URL that
 * carries its own credentials.
 *
 * <p>{@code fetch} is the URL as given, with credentials when it had any: only the fetcher reads
 * it. {@code display} is what answers and logs show: for HTTP URLs without the user info, for ssh
 * without the password. {@code key} is what a webhook's repository must match: see
 * {@link #githubKey} for GitHub, and lower-case {@code host/path} (no {@code .git}) for git URLs.
 */
public record RepoUrl(Kind kind, String fetch, String display, String owner, String repo, String key) {

    /** How a binding is fetched. */
    enum Kind {
        GITHUB, GIT;

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final int MAX_LENGTH = 2048;
    static final String EXAMPLES = "https://github.com/OWNER/REPO, git@github.com:OWNER/REPO.git, OWNER/REPO, "
            + "or a git URL such as https://git.example.com/team/app.git, ssh://git@host/team/app.git or "
            + "file:///srv/git/app.git";

    private static final Pattern OWNER = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})");
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    private static final Pattern SHORTHAND = Pattern.compile("([^/:@\\s]+)/([^/:@\\s]+)");
    private static final String USER = "[A-Za-z0-9_][A-Za-z0-9._-]*";
    private static final Pattern SSH_USER = Pattern.compile(USER);
    private static final Pattern SCP = Pattern.compile("(" + USER + ")@([A-Za-z0-9][A-Za-z0-9.-]*):(?!//)(\\S+)");
    private static final Set<String> SCHEMES = Set.of("https", "http", "ssh", "git", "file");
    private static final Set<String> GITHUB_HOSTS = Set.of("github.com", "www.github.com");

    /** Parses and normalises {@code raw}; a 400 with examples when it is not a repository URL. */
    static RepoUrl parse(String raw) {
        if (raw == null || raw.isBlank()) {
            throw invalid("url is required");
        }
        String url = raw.trim();
        if (url.length() > MAX_LENGTH) {
            throw invalid("url is longer than " + MAX_LENGTH + " characters");
        }
        for (int i = 0; i < url.length(); i++) {
            char c = url.charAt(i);
            if (c <= ' ' || c == 0x7f) {
                throw invalid("url contains a space or a control character");
            }
        }
        Matcher shorthand = SHORTHAND.matcher(url);
        if (shorthand.matches()) {
            return github(shorthand.group(1), shorthand.group(2), url);
        }
        Matcher scp = SCP.matcher(url);
        if (scp.matches()) {
            return scpLike(scp.group(1), scp.group(2), scp.group(3));
        }
        if (!url.contains("://")) {
            throw invalid("'" + url + "' is not a repository URL");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw invalid("'" + redactForMessage(url) + "' is not a valid URL (" + e.getReason() + ")");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!SCHEMES.contains(scheme)) {
            throw invalid("scheme '" + scheme + "' is not supported: use https, http, ssh, git or file");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw invalid("a repository URL has no query (?…) or fragment (#…)");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        if (scheme.equals("file")) {
            if (uri.getHost() != null && !uri.getHost().equalsIgnoreCase("localhost") || uri.getRawUserInfo() != null) {
                throw invalid("file URLs name a local path: file:///path/to/repo.git");
            }
            if (!path.startsWith("/") || path.length() < 2) {
                throw invalid("file URLs need an absolute path: file:///path/to/repo.git");
            }
            String fetch = "file://" + path;
            return new RepoUrl(Kind.GIT, fetch, fetch, null, null, "file" + stripGit(path).toLowerCase(Locale.ROOT));
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw invalid("'" + redactForMessage(url) + "' has no host name");
        }
        host = host.toLowerCase(Locale.ROOT);
        String trimmedPath = trimSlashes(path);
        if (trimmedPath.isEmpty()) {
            throw invalid("'" + redactForMessage(url) + "' names no repository path");
        }
        if (scheme.startsWith("http") && GITHUB_HOSTS.contains(host) && uri.getRawUserInfo() == null
                && uri.getPort() < 0) {
            String[] parts = stripGit(trimmedPath).split("/");
            if (parts.length != 2) {
                throw invalid("a GitHub URL names OWNER/REPO, like https://github.com/acme/shop-agent");
            }
            return github(parts[0], parts[1], url);
        }
        String userInfo = uri.getRawUserInfo();
        String shownUser = null;
        if (userInfo != null && (scheme.equals("ssh") || scheme.equals("git"))) {
            int colon = userInfo.indexOf(':');
            shownUser = colon < 0 ? userInfo : userInfo.substring(0, colon);
            if (!SSH_USER.matcher(shownUser).matches()) {
                throw invalid("an ssh user name holds letters, digits, '.', '_' and '-'");
            }
        }
        String authority = (shownUser == null ? "" : shownUser + "@") + host
                + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
        String display = scheme + "://" + authority + uri.getRawPath();
        return new RepoUrl(Kind.GIT, url, display, null, null, host + "/" + stripGit(trimmedPath).toLowerCase(Locale.ROOT));
    }

    /** The webhook key of a URL a GitHub-compatible payload names ({@code clone_url}, {@code ssh_url}, …). */
    public static Optional<String> keyOf(String url) {
        if (url == null || url.isBlank()) {
            return Optional.empty();
        }
        try {
            RepoUrl parsed = parse(url);
            if (parsed.kind() == Kind.GITHUB) {
                return Optional.of("github.com/" + (parsed.owner() + "/" + parsed.repo()).toLowerCase(Locale.ROOT));
            }
            return Optional.of(parsed.key());
        } catch (ApiError e) {
            return Optional.empty();
        }
    }

    /**
     * The webhook key of a GitHub {@code repository.full_name}. GitHub owner and repository names
     * are case-insensitive ({@code Acme/Shop} is {@code acme/shop}), so the match ignores case; the
     * prefix keeps these keys apart from the {@code host/path} keys of git URLs.
     */
    public static String githubKey(String fullName) {
        return "github:" + fullName.toLowerCase(Locale.ROOT);
    }

    /**
     * The user name and password in an HTTP URL's user info (percent-decoded), when it has any.
     * The user of an ssh URL is a login name that stays in the URL, not a credential.
     */
    Optional<Credentials> credentials() {
        if (kind != Kind.GIT || !fetch.contains("://")) {
            return Optional.empty();
        }
        URI uri = URI.create(fetch);
        if (!uri.getScheme().toLowerCase(Locale.ROOT).startsWith("http")) {
            return Optional.empty();
        }
        String info = uri.getRawUserInfo();
        if (info == null || info.isEmpty()) {
            return Optional.empty();
        }
        int colon = info.indexOf(':');
        String user = decode(colon < 0 ? info : info.substring(0, colon));
        String password = colon < 0 ? "" : decode(info.substring(colon + 1));
        return Optional.of(new Credentials(user, password));
    }

    /** The URL the fetcher connects to: {@code fetch} without the credentials, which go separately. */
    String connectUrl() {
        if (kind == Kind.GITHUB || !fetch.contains("://")) {
            return fetch;
        }
        URI uri = URI.create(fetch);
        if (uri.getRawUserInfo() == null) {
            return fetch;
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        boolean keepUser = scheme.equals("ssh") || scheme.equals("git");
        return keepUser ? display : scheme + "://" + uri.getRawAuthority().substring(uri.getRawUserInfo().length() + 1)
                + uri.getRawPath();
    }

    /** A user name and password for git over HTTP; {@link #toString()} hides the password. */
    record Credentials(String user, String password) {
        @Override
        public String toString() {
            return "Credentials[user=***, password=***]";
        }
    }

    /** Hides the URL's credentials; the record's own string form must never leak them into a log. */
    @Override
    public String toString() {
        return "RepoUrl[" + kind.wireName() + " " + display + "]";
    }

    private static RepoUrl github(String owner, String repo, String raw) {
        String name = stripGit(repo);
        if (!OWNER.matcher(owner).matches() || !REPO.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw invalid("'" + redactForMessage(raw) + "' is not a GitHub OWNER/REPO (owners are letters, digits and "
                    + "'-'; repositories letters, digits, '.', '-' and '_')");
        }
        String canonical = "https://github.com/" + owner + "/" + name;
        return new RepoUrl(Kind.GITHUB, canonical, canonical, owner, name, githubKey(owner + "/" + name));
    }

    private static RepoUrl scpLike(String user, String host, String path) {
        String lowerHost = host.toLowerCase(Locale.ROOT);
        String trimmed = trimSlashes(path);
        if (GITHUB_HOSTS.contains(lowerHost)) {
            String[] parts = stripGit(trimmed).split("/");
            if (parts.length != 2) {
                throw invalid("a GitHub URL names OWNER/REPO, like git@github.com:acme/shop-agent.git");
            }
            return github(parts[0], parts[1], user + "@" + host + ":" + path);
        }
        if (trimmed.isEmpty()) {
            throw invalid("'" + user + "@" + host + ":" + path + "' names no repository path");
        }
        String url = user + "@" + host + ":" + path;
        return new RepoUrl(Kind.GIT, url, url, null, null, lowerHost + "/" + stripGit(trimmed).toLowerCase(Locale.ROOT));
    }

    private static String stripGit(String path) {
        String p = trimSlashes(path);
        return p.endsWith(".git") ? p.substring(0, p.length() - 4) : p;
    }

    private static String trimSlashes(String path) {
        int start = 0;
        int end = path.length();
        while (start < end && (path.charAt(start) == '/' || path.charAt(start) == '~')) {
            start++;
        }
        while (end > start && path.charAt(end - 1) == '/') {
            end--;
        }
        return path.substring(start, end);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** A URL quoted in an error message: whatever sits before an '@' in the authority is hidden. */
    private static String redactForMessage(String url) {
        return url.replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", "$1***@");
    }

    private static ApiError invalid(String reason) {
        return new ApiError(ApiError.Kind.BAD_REQUEST, "invalid_repo_url", reason + ". Examples: " + EXAMPLES);
    }
}
