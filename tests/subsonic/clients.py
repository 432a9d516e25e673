"""Real Subsonic client libraries against a running music-rag server.

Run by crates/cli/tests/it/subsonic.rs with the server's address, a user, their password and an
API key: py-opensonic (token and salt, then the API key) and py-sonic (token; then the legacy
`enc:` password) browse artists and albums, search (everything, then plain words), stream a
byte range, fetch cover art, star, rate, scrobble, make, change and delete a playlist, and ask for
similar songs and a sonic path. Prints one JSON object of what it saw; any failure raises.
"""

import asyncio
import json
import sys
from urllib.parse import urlparse

import libopensonic
import libsonic


def read_all(conn, body):
    """py-opensonic hands binary answers back as aiohttp readers on its own event loop."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return asyncio.run_coroutine_threadsafe(body.read(), conn._loop).result()


def main():
    base, user, password, api_key = sys.argv[1:5]
    url = urlparse(base)
    host = f"{url.scheme}://{url.hostname}"
    seen = {}

    # py-opensonic, token + salt.
    oc = libopensonic.Connection(host, user, password, port=url.port)
    assert oc.ping(), "ping"
    ext = {e.name for e in oc.get_open_subsonic_extensions()}
    assert {"apiKeyAuthentication", "sonicSimilarity", "formPost"} <= ext, ext
    artists = oc.get_artists()
    names = sorted(a.name for idx in artists.index for a in idx.artist)
    seen["artists"] = names
    everything = oc.search3("", artist_count=100, album_count=100, song_count=500)
    songs = everything.song or []
    seen["songs"] = len(songs)
    assert len(songs) >= 3, songs
    albums = everything.album or []
    first_album = oc.get_album(albums[0].id)
    assert first_album.song, "an album has songs"
    seen["album_songs"] = [s.title for s in first_album.song]
    words = oc.search3("calm piano", artist_count=5, album_count=5, song_count=5)
    seen["calm_piano_first"] = words.song[0].title if words.song else None

    song = songs[0]
    whole = read_all(oc, oc.stream(song.id))
    assert len(whole) == song.size, (len(whole), song.size)
    part = read_all(oc, oc.stream(song.id, byte_range="bytes=100-199"))
    assert part == whole[100:200], "a byte range is those bytes"
    seen["streamed_bytes"] = len(whole)
    cover_bytes = read_all(oc, oc.get_cover_art(first_album.cover_art, size=32))
    assert cover_bytes[:3] == b"\xff\xd8\xff" or cover_bytes[:4] == b"\x89PNG", cover_bytes[:8]
    seen["cover_bytes"] = len(cover_bytes)

    oc.star(sids=[song.id], album_ids=[first_album.id])
    oc.set_rating(song.id, 4)
    oc.scrobble(song.id, submission=True)
    starred = oc.get_starred2()
    seen["starred_songs"] = [s.id for s in (starred.song or [])]
    assert song.id in seen["starred_songs"]

    assert oc.create_playlist(name="From py-opensonic", song_ids=[s.id for s in songs[:2]])
    made = next(p for p in oc.get_playlists() if p.name == "From py-opensonic")
    oc.update_playlist(made.id, name="Renamed", song_ids_to_add=[songs[2].id], song_indices_to_remove=[0])
    after = oc.get_playlist(made.id)
    seen["playlist"] = [after.name, [e.id for e in after.entry]]
    assert after.name == "Renamed" and [e.id for e in after.entry] == [songs[1].id, songs[2].id]
    oc.delete_playlist(made.id)
    assert all(p.id != made.id for p in (oc.get_playlists() or []))

    similar = oc.get_similar_songs2(song.id, count=5)
    seen["similar"] = len(similar)
    sonic = oc.get_sonic_similar_tracks(song.id, count=3)
    seen["sonic_similar"] = [round(m.similarity, 3) for m in sonic]
    path = oc.find_sonic_path(songs[0].id, songs[-1].id, count=4)
    seen["sonic_path"] = [m.entry.id for m in path]
    assert seen["sonic_path"][0] == songs[0].id and seen["sonic_path"][-1] == songs[-1].id

    # py-opensonic with the API key alone.
    kc = libopensonic.Connection(host, api_key=api_key, port=url.port)
    assert kc.ping(), "api key ping"
    seen["api_key_artists"] = len(kc.get_artists().index)

    # py-sonic: token auth, then the legacy hex password.
    for legacy in (False, True):
        sc = libsonic.Connection(host, user, password, port=url.port, legacyAuth=legacy)
        assert sc.ping()
        res = sc.search3("", artistCount=10, albumCount=10, songCount=10)
        assert res["status"] == "ok"
        seen[f"py_sonic_songs_legacy_{legacy}"] = len(res["searchResult3"].get("song", []))
        genres = sc.getGenres()
        assert genres["status"] == "ok"
    bad = libsonic.Connection(host, user, "not-the-password", port=url.port)
    try:
        bad.ping()
        raise AssertionError("a wrong password was accepted")
    except Exception as e:  # py-sonic raises its own error type per code
        seen["wrong_password"] = type(e).__name__
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
