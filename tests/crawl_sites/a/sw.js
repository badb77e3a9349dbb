// A service worker's requests bypass request routing: captures must not let it run.
self.addEventListener("install", () => fetch("/from-service-worker"));
