package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** gitignore(5), rule by rule. */
class GitIgnoreTest {

    private static boolean ignoredFile(String rules, String path) {
        return GitIgnore.ignored(List.of(GitIgnore.parse("", rules.lines().toList())), path, false);
    }

    private static boolean ignoredDir(String rules, String path) {
        return GitIgnore.ignored(List.of(GitIgnore.parse("", rules.lines().toList())), path, true);
    }

    @Test
    void blank_lines_and_comments_match_nothing() {
        assertThat(ignoredFile("\n   \n# secret.txt\n", "secret.txt")).isFalse();
        assertThat(ignoredFile("\n", "")).isFalse();
    }

    @Test
    void escaped_hash_matches_a_file_starting_with_hash() {
        assertThat(ignoredFile("\\#notes", "#notes")).isTrue();
        assertThat(ignoredFile("#notes", "#notes")).isFalse();
    }

    @Test
    void plain_name_matches_at_any_depth() {
        assertThat(ignoredFile("secret.txt", "secret.txt")).isTrue();
        assertThat(ignoredFile("secret.txt", "a/b/secret.txt")).isTrue();
        assertThat(ignoredFile("secret.txt", "a/secret.txt.bak")).isFalse();
        assertThat(ignoredDir("build", "src/build")).isTrue();
    }

    @Test
    void leading_slash_anchors_to_the_gitignore_folder() {
        assertThat(ignoredFile("/todo.txt", "todo.txt")).isTrue();
        assertThat(ignoredFile("/todo.txt", "docs/todo.txt")).isFalse();
    }

    @Test
    void slash_in_the_middle_anchors_too() {
        assertThat(ignoredFile("doc/frotz", "doc/frotz")).isTrue();
        assertThat(ignoredFile("doc/frotz", "a/doc/frotz")).isFalse();
    }

    @Test
    void trailing_slash_matches_directories_only() {
        assertThat(ignoredDir("logs/", "logs")).isTrue();
        assertThat(ignoredDir("logs/", "app/logs")).isTrue();
        assertThat(ignoredFile("logs/", "logs")).isFalse();
    }

    @Test
    void star_matches_within_one_path_segment() {
        assertThat(ignoredFile("*.log", "debug.log")).isTrue();
        assertThat(ignoredFile("*.log", "deep/er/debug.log")).isTrue();
        assertThat(ignoredFile("/src/*.js", "src/app.js")).isTrue();
        assertThat(ignoredFile("/src/*.js", "src/lib/app.js")).isFalse();
    }

    @Test
    void question_mark_matches_one_character_but_not_a_slash() {
        assertThat(ignoredFile("file?.txt", "file1.txt")).isTrue();
        assertThat(ignoredFile("file?.txt", "file12.txt")).isFalse();
        assertThat(ignoredFile("a?b", "a/b")).isFalse();
    }

    @Test
    void bracket_class_matches_one_listed_character() {
        assertThat(ignoredFile("v[0-9].txt", "v7.txt")).isTrue();
        assertThat(ignoredFile("v[0-9].txt", "vx.txt")).isFalse();
        assertThat(ignoredFile("v[!0-9].txt", "vx.txt")).isTrue();
        assertThat(ignoredFile("v[!0-9].txt", "v7.txt")).isFalse();
    }

    @Test
    void leading_double_star_matches_in_every_directory() {
        assertThat(ignoredFile("**/foo", "foo")).isTrue();
        assertThat(ignoredFile("**/foo", "a/b/foo")).isTrue();
        assertThat(ignoredFile("**/foo/bar", "x/foo/bar")).isTrue();
        assertThat(ignoredFile("**/foo/bar", "x/foo/baz/bar")).isFalse();
    }

    @Test
    void trailing_double_star_matches_everything_inside() {
        assertThat(ignoredFile("abc/**", "abc/x")).isTrue();
        assertThat(ignoredFile("abc/**", "abc/x/y/z")).isTrue();
        assertThat(ignoredDir("abc/**", "abc")).isFalse();
        assertThat(ignoredFile("abc/**", "x/abc/y")).isFalse();
    }

    @Test
    void middle_double_star_matches_zero_or_more_directories() {
        assertThat(ignoredFile("a/**/b", "a/b")).isTrue();
        assertThat(ignoredFile("a/**/b", "a/x/b")).isTrue();
        assertThat(ignoredFile("a/**/b", "a/x/y/b")).isTrue();
        assertThat(ignoredFile("a/**/b", "a/x/c")).isFalse();
    }

    @Test
    void other_double_stars_act_like_one_star() {
        assertThat(ignoredFile("foo**bar", "fooXbar")).isTrue();
        assertThat(ignoredFile("foo**bar", "foo/bar")).isFalse();
    }

    @Test
    void negation_reincludes_a_file() {
        assertThat(ignoredFile("*.log\n!keep.log", "keep.log")).isFalse();
        assertThat(ignoredFile("*.log\n!keep.log", "other.log")).isTrue();
    }

    @Test
    void last_matching_rule_wins() {
        assertThat(ignoredFile("!keep.log\n*.log", "keep.log")).isTrue();
    }

    @Test
    void escaped_exclamation_matches_a_file_starting_with_exclamation() {
        assertThat(ignoredFile("\\!important", "!important")).isTrue();
    }

    @Test
    void trailing_spaces_are_ignored_unless_escaped() {
        assertThat(ignoredFile("notes.txt   ", "notes.txt")).isTrue();
        assertThat(ignoredFile("trail\\ ", "trail ")).isTrue();
        assertThat(ignoredFile("trail\\ ", "trail")).isFalse();
    }

    @Test
    void windows_line_endings_are_tolerated() {
        assertThat(ignoredFile("a.txt\r\nb.txt\r\n", "a.txt")).isTrue();
    }

    @Test
    void nested_gitignore_applies_below_its_own_folder_only() {
        List<GitIgnore> stack = List.of(GitIgnore.parse("", List.of()), GitIgnore.parse("sub", List.of("*.tmp", "/local")));

        assertThat(GitIgnore.ignored(stack, "sub/x.tmp", false)).isTrue();
        assertThat(GitIgnore.ignored(stack, "sub/deeper/x.tmp", false)).isTrue();
        assertThat(GitIgnore.ignored(stack, "x.tmp", false)).isFalse();
        assertThat(GitIgnore.ignored(stack, "sub/local", false)).isTrue();
        assertThat(GitIgnore.ignored(stack, "sub/deeper/local", false)).isFalse();
    }

    @Test
    void nested_gitignore_overrides_its_parent() {
        List<GitIgnore> stack = List.of(GitIgnore.parse("", List.of("*.md")), GitIgnore.parse("docs", List.of("!README.md")));

        assertThat(GitIgnore.ignored(stack, "docs/README.md", false)).isFalse();
        assertThat(GitIgnore.ignored(stack, "docs/other.md", false)).isTrue();
        assertThat(GitIgnore.ignored(stack, "README.md", false)).isTrue();
    }

    @Test
    void regex_characters_in_names_are_literal() {
        assertThat(ignoredFile("a+b(1).txt", "a+b(1).txt")).isTrue();
        assertThat(ignoredFile("a.txt", "abtxt")).isFalse();
    }
}
