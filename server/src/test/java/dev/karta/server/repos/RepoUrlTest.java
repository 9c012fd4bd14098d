package dev.karta.server.repos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.http.ApiError;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Repository URLs: GitHub forms become one canonical URL; other URLs stay git URLs without showing credentials. */
class RepoUrlTest {

    @ParameterizedTest
    @ValueSource(strings = {"https://github.com/acme/shop-agent", "https://github.com/acme/shop-agent.git",
            "https://github.com/acme/shop-agent/", "git@github.com:acme/shop-agent.git", "git@github.com:acme/shop-agent",
            "acme/shop-agent", "acme/shop-agent.git", "http://github.com/acme/shop-agent", " acme/shop-agent "})
    void github_forms_normalise_to_the_canonical_url(String given) {
        RepoUrl url = RepoUrl.parse(given);

        assertThat(url.kind()).isEqualTo(RepoUrl.Kind.GITHUB);
        assertThat(url.display()).isEqualTo("https://github.com/acme/shop-agent");
        assertThat(url.fetch()).isEqualTo("https://github.com/acme/shop-agent");
        assertThat(url.owner()).isEqualTo("acme");
        assertThat(url.repo()).isEqualTo("shop-agent");
        assertThat(url.key()).isEqualTo("github:acme/shop-agent");
    }

    @ParameterizedTest
    @ValueSource(strings = {"https://git.example.com/team/app.git", "ssh://git@git.example.com/team/app.git",
            "file:///srv/git/app.git", "git://git.example.com/team/app.git", "git@gitlab.com:team/app.git",
            "ssh://git@github.com/acme/shop-agent.git", "https://github.example.com/acme/shop-agent"})
    void other_urls_are_kept_as_git_urls(String given) {
        RepoUrl url = RepoUrl.parse(given);

        assertThat(url.kind()).isEqualTo(RepoUrl.Kind.GIT);
        assertThat(url.display()).isEqualTo(given);
        assertThat(url.fetch()).isEqualTo(given);
        assertThat(url.credentials()).isEmpty();
    }

    @Test
    void credentials_in_an_https_url_are_kept_for_fetching_and_never_shown() {
        RepoUrl url = RepoUrl.parse("https://deploy:s3cr%2Ft@git.example.com/team/app.git");

        assertThat(url.kind()).isEqualTo(RepoUrl.Kind.GIT);
        assertThat(url.display()).isEqualTo("https://git.example.com/team/app.git");
        assertThat(url.connectUrl()).isEqualTo("https://git.example.com/team/app.git");
        assertThat(url.credentials()).hasValueSatisfying(c -> {
            assertThat(c.user()).isEqualTo("deploy");
            assertThat(c.password()).isEqualTo("s3cr/t");
            assertThat(c.toString()).doesNotContain("deploy", "s3cr");
        });
        assertThat(url.toString()).doesNotContain("s3cr", "deploy");
        assertThat(url.key()).isEqualTo("git.example.com/team/app");
    }

    @Test
    void a_token_as_the_user_name_is_hidden_too() {
        RepoUrl url = RepoUrl.parse("https://ghp_abcdef0123456789@github.com/acme/private-agent.git");

        assertThat(url.kind()).as("a GitHub URL with its own credentials is fetched with git").isEqualTo(RepoUrl.Kind.GIT);
        assertThat(url.display()).isEqualTo("https://github.com/acme/private-agent.git");
        assertThat(url.credentials()).hasValueSatisfying(c -> assertThat(c.user()).isEqualTo("ghp_abcdef0123456789"));
    }

    @Test
    void an_ssh_url_shows_its_user_name_but_not_a_password() {
        RepoUrl url = RepoUrl.parse("ssh://git:hunter2@git.example.com:2222/team/app.git");

        assertThat(url.display()).isEqualTo("ssh://git@git.example.com:2222/team/app.git");
        assertThat(url.key()).isEqualTo("git.example.com/team/app");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "not a url", "ftp://example.com/repo.git", "https://", "https://example.com",
            "https://example.com/", "https://github.com/acme", "https://github.com/acme/shop/tree/main",
            "https://example.com/repo.git?x=1", "https://example.com/repo.git#main", "file://relative/path",
            "file:relative", "acme/", "-acme/shop", "acme/..", "https://exa mple.com/r.git", "C:\\repos\\app",
            "file://host/srv/app.git", "-oProxyCommand=touch@host:repo.git",
            "ssh://-oProxyCommand=touch@host/repo.git"})
    void malformed_urls_are_400_with_examples(String given) {
        assertThatThrownBy(() -> RepoUrl.parse(given))
                .isInstanceOfSatisfying(ApiError.class, e -> {
                    assertThat(e.kind()).isEqualTo(ApiError.Kind.BAD_REQUEST);
                    assertThat(e.code()).isEqualTo("invalid_repo_url");
                    assertThat(e.getMessage()).contains("Examples: https://github.com/OWNER/REPO");
                });
    }

    @Test
    void an_error_about_a_url_with_credentials_does_not_repeat_them() {
        assertThatThrownBy(() -> RepoUrl.parse("https://user:hunter2@"))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
        assertThatThrownBy(() -> RepoUrl.parse("https://user:hunter2@example.com/"))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
    }

    @Test
    void webhook_urls_of_a_repository_share_one_key() {
        assertThat(RepoUrl.keyOf("https://git.example.com/team/app.git")).hasValue("git.example.com/team/app");
        assertThat(RepoUrl.keyOf("git@git.example.com:team/app.git")).hasValue("git.example.com/team/app");
        assertThat(RepoUrl.keyOf("https://git.example.com/team/app")).hasValue("git.example.com/team/app");
        assertThat(RepoUrl.keyOf("https://github.com/acme/shop-agent.git")).hasValue("github.com/acme/shop-agent");
        assertThat(RepoUrl.keyOf("nonsense")).isEmpty();
        assertThat(RepoUrl.githubKey("Acme/Shop-Agent")).isEqualTo(RepoUrl.parse("acme/shop-agent").key());
    }
}
