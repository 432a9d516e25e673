// The npm `subsonic-api` client against a running music-rag server: token logins over GET,
// form POST (the formPost extension), and the API key; browse, search in plain words, stream,
// star, and a sonic path through `customJSON`. Prints one JSON object; any failure throws.
//   node tests/ui/subsonic-clients.mjs BASE USER PASSWORD API_KEY (beside the npm packages)
import { SubsonicAPI } from "subsonic-api";
import assert from "node:assert/strict";

const [base, username, password, apiKey] = process.argv.slice(2);
const seen = {};
for (const post of [false, true]) {
  const api = new SubsonicAPI({ url: base, auth: { username, password }, post });
  const ping = await api.ping();
  assert.equal(ping.status, "ok");
  assert.equal(ping.openSubsonic, true);
  const { artists } = await api.getArtists();
  seen[`artists_post_${post}`] = artists.index.flatMap((i) => i.artist.map((a) => a.name));
  const { searchResult3 } = await api.search3({ query: "calm piano", songCount: 3 });
  seen[`calm_piano_post_${post}`] = searchResult3.song[0].title;
}
const api = new SubsonicAPI({ url: base, auth: { apiKey } });
const everything = await api.search3({ query: "", songCount: 500 });
const songs = everything.searchResult3.song;
seen.songs = songs.length;
const { album } = await api.getAlbum({ id: songs[0].albumId });
assert.ok(album.song.length >= 1);
const audio = await api.stream({ id: songs[0].id });
assert.equal(audio.status, 200);
const bytes = new Uint8Array(await audio.arrayBuffer());
assert.equal(bytes.length, songs[0].size);
seen.streamed = bytes.length;
const cover = await api.getCoverArt({ id: album.id, size: 48 });
assert.match(cover.headers.get("content-type"), /^image\//);
await api.star({ id: songs[1].id });
const { starred2 } = await api.getStarred2();
assert.ok(starred2.song.some((s) => s.id === songs[1].id));
const path = await api.customJSON("findSonicPath", {
  startSongId: songs[0].id,
  endSongId: songs[songs.length - 1].id,
  count: 3,
});
const steps = path.sonicMatch.map((m) => m.entry.id);
assert.equal(steps[0], songs[0].id);
assert.equal(steps[steps.length - 1], songs[songs.length - 1].id);
seen.path = steps.length;
const wrong = new SubsonicAPI({ url: base, auth: { username, password: "not-the-password" } });
const refused = await wrong.ping();
assert.equal(refused.status, "failed");
seen.wrong_password_code = refused.error.code;
console.log(JSON.stringify(seen));
