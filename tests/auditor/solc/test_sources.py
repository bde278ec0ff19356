from pathlib import Path

from auditor.solc.sources import (
    Remapping,
    apply_remappings,
    compilation_unit,
    imports,
    pragmas,
    strip_comments,
)

SOLIDITY = Path(__file__).resolve().parents[2] / "fixtures" / "solidity"


def test_comments_do_not_count_and_lines_are_kept():
    src = 'pragma solidity ^0.4.24;\n// pragma solidity ^0.5.0;\n/* import "x.sol";\n */\nimport "./a.sol";\n'
    assert pragmas(src) == ["^0.4.24"]
    assert imports(src) == ["./a.sol"]
    assert strip_comments(src).count("\n") == src.count("\n")


def test_string_with_comment_marker_is_not_a_comment():
    src = 'string s = "http://x"; pragma solidity 0.5.0;'
    assert pragmas(src) == ["0.5.0"]


def test_every_import_form():
    src = """
    import "a.sol";
    import 'b.sol' as B;
    import * as C from "c.sol";
    import {X, Y as Z} from "./d.sol";
    import
        { W }
        from "@oz/e.sol";
    """
    assert imports(src) == ["a.sol", "b.sol", "c.sol", "./d.sol", "@oz/e.sol"]


def test_remapping_longest_prefix_wins():
    rs = [Remapping.parse("@oz/=lib/oz/"), Remapping.parse("@oz/token/=lib/tok/"),
          Remapping.parse("ctx:@m/=deps/m/")]
    assert apply_remappings("@oz/token/ERC20.sol", rs) == "lib/tok/ERC20.sol"
    assert apply_remappings("@oz/access/Ownable.sol", rs) == "lib/oz/access/Ownable.sol"
    assert apply_remappings("@m/A.sol", rs) == "deps/m/A.sol"
    assert apply_remappings("other/A.sol", rs) == "other/A.sol"


def test_unit_follows_relative_and_remapped_imports():
    unit = compilation_unit([SOLIDITY / "pragmas" / "Top.sol"])
    assert {p.name for p in unit} == {"Top.sol", "Base.sol"}
    root = SOLIDITY / "remap"
    unit = compilation_unit([root / "src" / "Main.sol"], [Remapping.parse("@math/=deps/math/")], [root])
    assert {p.name for p in unit} == {"Main.sol", "SafeAdd.sol"}


def test_unresolved_import_is_recorded_not_fatal(tmp_path):
    f = tmp_path / "A.sol"
    f.write_text('pragma solidity ^0.8.0;\nimport "missing/Nope.sol";\ncontract A {}\n')
    unit = compilation_unit([f])
    assert unit[f.resolve()].imports == {"missing/Nope.sol": None}
