from studio.core.settings import MAX_RECENT, Settings, load_settings, save_settings, settings_path


def test_round_trip_and_recent_order():
    s = Settings()
    for i in range(MAX_RECENT + 3):
        s.add_recent(f"/models/m{i}.pkl")
    s.add_recent("/models/m5.pkl")
    save_settings(s)
    loaded = load_settings()
    assert loaded.recent_models[0] == "/models/m5.pkl" and len(loaded.recent_models) == MAX_RECENT
    assert loaded.last_model == "/models/m5.pkl"


def test_damaged_file_is_set_aside_and_defaults_used():
    path = settings_path()
    path.write_text("{ not json")
    assert load_settings() == Settings()
    assert not path.exists() and list(path.parent.glob("settings.json.damaged-*"))


def test_newer_version_is_left_alone():
    path = settings_path()
    path.write_text('{"version": 99, "device": "cuda"}')
    assert load_settings().device == "auto"
    assert path.exists()
