package dev.karta.server.config;

import dev.karta.server.http.ApiError;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The rules every config var follows, checked before anything is stored: names
 * {@code [A-Z_][A-Z0-9_]{0,63}}, values of at most {@value #MAX_VALUE_BYTES} bytes (UTF-8) without
 * NUL, at most {@value #MAX_VARS} vars per project, and no reserved name. Reserved are Karta's own
 * ({@code KARTA_*}), what Karta sets for every harness itself ({@code PATH}, {@code HOME},
 * {@code LANG}, {@code XDG_*}), and what would change how the programs that start a harness behave
 * (the dynamic linker's {@code LD_*} and glibc's other unsafe variables, the shell's start-up
 * variables): those run outside the sandbox, so a tenant must not be able to steer them. Error
 * messages name the variable, never its value.
 */
public final class ConfigRules {
    public static final int MAX_NAME = 64;
    public static final int MAX_VALUE_BYTES = 32 * 1024;
    public static final int MAX_VARS = 200;
    private static final Pattern NAME = Pattern.compile("[A-Z_][A-Z0-9_]{0,63}");
    private static final List<String> RESERVED_PREFIXES = List.of("KARTA_", "LD_", "XDG_");
    private static final Set<String> RESERVED = Set.of("PATH", "HOME", "LANG",
            // glibc ignores these in privileged programs, because they load code or files:
            "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
            "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
            // read by shells at start-up
            "ENV", "BASH_ENV", "IFS", "CDPATH", "PS4", "SHELLOPTS", "BASHOPTS");

    private ConfigRules() {
    }

    /** Whether {@code name} is a config var name; reserved names are names too. */
    public static boolean isName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    /** Why {@code name} may not be used, or null when it may. */
    public static String reservedReason(String name) {
        for (String prefix : RESERVED_PREFIXES) {
            if (name.startsWith(prefix)) {
                return prefix + "* names are reserved: " + (prefix.equals("KARTA_") ? "Karta's own settings"
                        : prefix.equals("XDG_") ? "Karta sets them for every harness" : "they steer the dynamic linker");
            }
        }
        if (RESERVED.contains(name)) {
            return List.of("PATH", "HOME", "LANG").contains(name) ? "Karta sets it for every harness"
                    : "it changes how the programs that start a harness behave";
        }
        return null;
    }

    /** Checks one name: 422 naming it when it is malformed or reserved. */
    static void checkName(String name) {
        if (!isName(name)) {
            throw new ApiError(ApiError.Kind.UNPROCESSABLE, "invalid_config_name", "invalid config var name "
                    + shown(name) + ": names are 1 to " + MAX_NAME + " characters of A-Z, 0-9 and _, not starting "
                    + "with a digit");
        }
        String reserved = reservedReason(name);
        if (reserved != null) {
            throw new ApiError(ApiError.Kind.UNPROCESSABLE, "config_name_reserved", "config var name " + name
                    + " is reserved: " + reserved);
        }
    }

    /** Checks one value of {@code name}, without ever quoting it. */
    static void checkValue(String name, String value) {
        if (value.indexOf('\0') >= 0) {
            throw new ApiError(ApiError.Kind.UNPROCESSABLE, "invalid_config_value", "the value of " + name
                    + " contains a NUL character, which no environment variable can hold");
        }
        int bytes = value.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_VALUE_BYTES) {
            throw new ApiError(ApiError.Kind.UNPROCESSABLE, "config_value_too_large", "the value of " + name
                    + " is " + bytes + " bytes; the limit is " + MAX_VALUE_BYTES + " bytes (UTF-8)");
        }
    }

    /** Checks the size of a whole set. */
    static void checkCount(Map<String, String> vars) {
        if (vars.size() > MAX_VARS) {
            throw new ApiError(ApiError.Kind.UNPROCESSABLE, "too_many_config_vars", "a project may have at most "
                    + MAX_VARS + " config vars; this change would leave " + vars.size());
        }
    }

    /**
     * A name that failed the rules, for an error message: quoted, or only its length past
     * {@value #MAX_NAME} characters (a long "name" is more likely a value pasted in the wrong place).
     */
    private static String shown(String name) {
        if (name == null || name.isEmpty()) {
            return "(empty)";
        }
        return name.length() > MAX_NAME ? "of " + name.length() + " characters" : "'" + name + "'";
    }
}
