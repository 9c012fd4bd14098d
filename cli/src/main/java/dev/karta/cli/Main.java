package dev.karta.cli;

/** Placeholder entry point, replaced by the CLI. */
public final class Main {
    public static void main(String[] args) {
        System.out.println("karta cli");
    }
}
