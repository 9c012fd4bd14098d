package dev.karta.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;

/**
 * A person at a keyboard: prompts and answers. Built from {@link System#console()} in the real
 * process (secrets are read without echo); tests build one from a reader and a writer.
 */
final class Terminal {
    private final BufferedReader in;
    private final PrintWriter out;
    private final Console console;

    Terminal(BufferedReader in, PrintWriter out) {
        this(in, out, null);
    }

    private Terminal(BufferedReader in, PrintWriter out, Console console) {
        this.in = in;
        this.out = out;
        this.console = console;
    }

    /** The terminal of this process, or null when standard input or output is redirected. */
    static Terminal of(Console console) {
        if (console == null) {
            return null;
        }
        return new Terminal(new BufferedReader(console.reader()), console.writer(), console);
    }

    /** Asks a question; null when input ends. */
    String readLine(String prompt) {
        out.print(prompt);
        out.flush();
        try {
            return in.readLine();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asks for a secret, hidden while typed on a real console; null when input ends. */
    String readSecret(String prompt) {
        if (console != null) {
            char[] typed = console.readPassword("%s", prompt);
            return typed == null ? null : new String(typed);
        }
        return readLine(prompt);
    }
}
