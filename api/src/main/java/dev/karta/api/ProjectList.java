package dev.karta.api;

import java.util.List;

public record ProjectList(List<Project> projects) {
}
