package dev.karta.api;

import java.util.List;

public record ReleaseList(List<Release> releases) {
}
