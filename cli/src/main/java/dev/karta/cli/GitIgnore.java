package dev.karta.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The rules of one {@code .gitignore} file, with the syntax of gitignore(5): blank lines and
 * {@code #} comments match nothing; {@code \} escapes a leading {@code #} or {@code !} and a
 * trailing space; {@code !} re-includes; a trailing {@code /} matches directories only; a
 * {@code /} at the start or in the middle anchors the pattern to this file's folder, otherwise it
 * matches at any depth; {@code *} and {@code ?} never match {@code /}; {@code [a-z]} is a class;
 * {@code **}{@code /}, {@code /**} and {@code /**}{@code /} span folders. Paths are relative to
 * the archive root with {@code /} separators; rules only see paths below their own folder.
 */
final class GitIgnore {

    /** The verdict of a set of rules on a path. */
    enum Match { NONE, IGNORED, INCLUDED }

    private record Rule(Pattern regex, boolean negated, boolean directoryOnly) {
    }

    private final String base;
    private final List<Rule> rules;

    private GitIgnore(String base, List<Rule> rules) {
        this.base = base;
        this.rules = List.copyOf(rules);
    }

    /** Parses the lines of the {@code .gitignore} found in folder {@code base} ("" for the root). */
    static GitIgnore parse(String base, List<String> lines) {
        List<Rule> rules = new ArrayList<>();
        for (String line : lines) {
            Rule rule = compile(line);
            if (rule != null) {
                rules.add(rule);
            }
        }
        return new GitIgnore(base, rules);
    }

    /** The last rule that matches decides; NONE when no rule does or the path is not below this file. */
    Match match(String path, boolean directory) {
        String relative;
        if (base.isEmpty()) {
            relative = path;
        } else if (path.startsWith(base + "/")) {
            relative = path.substring(base.length() + 1);
        } else {
            return Match.NONE;
        }
        for (int i = rules.size() - 1; i >= 0; i--) {
            Rule rule = rules.get(i);
            if (rule.directoryOnly() && !directory) {
                continue;
            }
            if (rule.regex().matcher(relative).matches()) {
                return rule.negated() ? Match.INCLUDED : Match.IGNORED;
            }
        }
        return Match.NONE;
    }

    /** Deeper files override shallower ones: the first verdict from the deepest file wins. */
    static boolean ignored(List<GitIgnore> stack, String path, boolean directory) {
        for (int i = stack.size() - 1; i >= 0; i--) {
            Match match = stack.get(i).match(path, directory);
            if (match != Match.NONE) {
                return match == Match.IGNORED;
            }
        }
        return false;
    }

    private static Rule compile(String line) {
        String pattern = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        pattern = stripTrailingSpaces(pattern);
        if (pattern.isEmpty() || pattern.startsWith("#")) {
            return null;
        }
        boolean negated = pattern.startsWith("!");
        if (negated) {
            pattern = pattern.substring(1);
        }
        boolean directoryOnly = pattern.endsWith("/");
        if (directoryOnly) {
            pattern = pattern.substring(0, pattern.length() - 1);
        }
        boolean anchored = pattern.contains("/");
        if (pattern.startsWith("/")) {
            pattern = pattern.substring(1);
        }
        if (pattern.isEmpty()) {
            return null;
        }
        String regex = (anchored ? "" : "(?:.*/)?") + globToRegex(pattern);
        return new Rule(Pattern.compile(regex, Pattern.DOTALL), negated, directoryOnly);
    }

    /** Trailing spaces are dropped unless escaped with a backslash. */
    private static String stripTrailingSpaces(String pattern) {
        int end = pattern.length();
        while (end > 0 && pattern.charAt(end - 1) == ' ') {
            int backslashes = 0;
            for (int i = end - 2; i >= 0 && pattern.charAt(i) == '\\'; i--) {
                backslashes++;
            }
            if (backslashes % 2 == 1) {
                break;
            }
            end--;
        }
        return pattern.substring(0, end);
    }

    private static String globToRegex(String glob) {
        StringBuilder regex = new StringBuilder();
        int n = glob.length();
        for (int i = 0; i < n; i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '*' -> {
                    int stars = 1;
                    while (i + stars < n && glob.charAt(i + stars) == '*') {
                        stars++;
                    }
                    boolean segmentStart = i == 0 || glob.charAt(i - 1) == '/';
                    int after = i + stars;
                    if (stars >= 2 && segmentStart && after == n) {
                        regex.append(".*");                 // "/**" at the end: everything inside
                    } else if (stars >= 2 && segmentStart && glob.charAt(after) == '/') {
                        regex.append("(?:.*/)?");           // "**/": zero or more folders
                        after++;
                    } else {
                        regex.append("[^/]*");              // any other run of stars is one star
                    }
                    i = after - 1;
                }
                case '?' -> regex.append("[^/]");
                case '[' -> {
                    int close = classEnd(glob, i);
                    if (close < 0) {
                        regex.append("\\[");
                    } else {
                        regex.append(characterClass(glob.substring(i + 1, close)));
                        i = close;
                    }
                }
                case '\\' -> {
                    if (i + 1 < n) {
                        regex.append(Pattern.quote(String.valueOf(glob.charAt(++i))));
                    }
                }
                default -> regex.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return regex.toString();
    }

    /** The index of the {@code ]} closing the class opened at {@code open}, or -1. */
    private static int classEnd(String glob, int open) {
        int i = open + 1;
        if (i < glob.length() && (glob.charAt(i) == '!' || glob.charAt(i) == '^')) {
            i++;
        }
        if (i < glob.length() && glob.charAt(i) == ']') {
            i++; // a ']' first in the class is a literal
        }
        for (; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == ']') {
                return i;
            }
        }
        return -1;
    }

    private static String characterClass(String body) {
        StringBuilder out = new StringBuilder("(?!/)[");
        int start = 0;
        if (!body.isEmpty() && (body.charAt(0) == '!' || body.charAt(0) == '^')) {
            out.append('^');
            start = 1;
        }
        for (int i = start; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c == '\\' && i + 1 < body.length()) {
                c = body.charAt(++i);
                out.append(literalInClass(c));
            } else if (c == '-' && i > start && i < body.length() - 1) {
                out.append('-');
            } else {
                out.append(literalInClass(c));
            }
        }
        return out.append(']').toString();
    }

    private static String literalInClass(char c) {
        return Character.isLetterOrDigit(c) ? String.valueOf(c) : "\\" + c;
    }
}
