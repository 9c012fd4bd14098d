package dev.karta.server.testkit;

/** A fresh, empty database on the test run's embedded PostgreSQL server, as a JDBC URL. */
public record PostgresDatabase(String url) {
}
