"""Video lists and labelled manifests in every accepted layout."""

import pytest

from vjepa2.data import find_videos, read_labelled, read_list, split_examples


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_find_videos_recurses_and_dedups(tmp_path):
    a = touch(tmp_path / "a.mp4")
    b = touch(tmp_path / "sub" / "b.MKV")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "sub" / ".hidden.mp4")
    odd = touch(tmp_path / "clip.bin")
    assert find_videos([tmp_path, a, odd]) == [a, b, odd]
    with pytest.raises(FileNotFoundError, match="nope"):
        find_videos([tmp_path / "nope.mp4"])


def test_list_file_resolves_relative_paths(tmp_path):
    (tmp_path / "list.txt").write_text("# videos\nx.mp4\n\n/abs/y.mp4\n")
    assert read_list(tmp_path / "list.txt") == [tmp_path / "x.mp4", tmp_path.parent / "/abs/y.mp4"]


@pytest.mark.parametrize(
    "text",
    [
        "a.mp4 0\nb b.mp4 1\nc.mp4 0\n",  # original format: space separated, no header
        "path,label\na.mp4,0\nb b.mp4,1\nc.mp4,0\n",
        "path\tlabel\na.mp4\t0\nb b.mp4\t1\nc.mp4\t0\n",
        "label,path\n0,a.mp4\n1,b b.mp4\n0,c.mp4\n",
    ],
)
def test_manifest_formats(tmp_path, text):
    (tmp_path / "m.csv").write_text(text)
    data = read_labelled(tmp_path / "m.csv")
    assert [(e.path.name, e.label) for e in data.examples] == [
        ("a.mp4", 0), ("b b.mp4", 1), ("c.mp4", 0)
    ]  # fmt: skip
    assert data.id2label == {0: "0", 1: "1"}


def test_named_labels_and_fixed_label_set(tmp_path):
    (tmp_path / "train.csv").write_text("path,label\na.mp4,walk\nb.mp4,run\n")
    (tmp_path / "test.csv").write_text("path,label\nc.mp4,run\nd.mp4,swim\n")
    train = read_labelled(tmp_path / "train.csv")
    assert train.id2label == {0: "run", 1: "walk"}
    with pytest.raises(ValueError, match="swim"):
        read_labelled(tmp_path / "test.csv", id2label=train.id2label)


def test_class_folders(tmp_path):
    for name in ("up", "down"):
        for i in range(3):
            touch(tmp_path / name / f"{i}.mp4")
    data = read_labelled(tmp_path)
    assert data.id2label == {0: "down", 1: "up"}
    assert len(data) == 6


def test_stratified_split_is_seeded(tmp_path):
    for name in ("a", "b"):
        for i in range(10):
            touch(tmp_path / name / f"{i}.mp4")
    data = read_labelled(tmp_path)
    train, val, test = split_examples(data, (0.6, 0.2, 0.2), seed=3)
    assert (len(train), len(val), len(test)) == (12, 4, 4)
    assert sum(e.label for e in val.examples) == 2  # two of each class
    again = split_examples(data, (0.6, 0.2, 0.2), seed=3)
    assert [e.path for e in again[2].examples] == [e.path for e in test.examples]
    assert not {e.path for e in train.examples} & {e.path for e in test.examples}


@pytest.mark.parametrize(
    "text",
    [
        "file,class\na.mp4,walk\nb b.mp4,run\n",
        "video\tcategory\na.mp4\twalk\nb b.mp4\trun\n",
        "id,Class,FileName\n7,walk,a.mp4\n8,run,b b.mp4\n",
    ],
)
def test_common_header_names(tmp_path, text):
    (tmp_path / "m.csv").write_text(text)
    data = read_labelled(tmp_path / "m.csv")
    assert [(e.path.name, data.id2label[e.label]) for e in data.examples] == [
        ("a.mp4", "walk"), ("b b.mp4", "run")
    ]  # fmt: skip
    assert "class" not in data.id2label.values()


@pytest.mark.parametrize("header", ["name,target", "file,target", "clip,class"])
def test_unknown_header_fails_naming_the_expected_columns(tmp_path, header):
    (tmp_path / "m.csv").write_text(f"{header}\na.mp4,walk\n")
    with pytest.raises(ValueError, match="path/file/video/filename and label/class/category"):
        read_labelled(tmp_path / "m.csv")


def test_a_label_named_like_a_column_is_still_data(tmp_path):
    (tmp_path / "m.csv").write_text("a.mp4,class\nb.mp4,label\n")
    data = read_labelled(tmp_path / "m.csv")
    assert sorted(data.id2label.values()) == ["class", "label"] and len(data) == 2


def test_find_videos_takes_images_from_folders_when_asked(tmp_path):
    video = touch(tmp_path / "a.mp4")
    image = touch(tmp_path / "sub" / "photo.JPG")
    assert find_videos([tmp_path]) == [video]
    assert find_videos([tmp_path], images=True) == [video, image]
