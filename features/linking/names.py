"""Names, postcodes, UPRNs and NINOs in one normalised form, and the given-name variants linking folds."""


from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import PATTERNS

if TYPE_CHECKING:
    pass


GIVEN_NAME_VARIANTS: dict[str, tuple[str, ...]] = {
    "ABIGAIL": ("ABBY", "ABBIE", "ABI"),
    "ALBERT": ("BERT", "BERTIE", "AL"),
    "ALEXANDER": ("ALEX", "ALEC", "ALECK", "SANDY", "XANDER", "ALASDAIR", "ALASTAIR", "ALISTAIR"),
    "ALEXANDRA": ("ALEX", "ALEXA", "LEXI", "LEXIE", "SANDY"),
    "ALFRED": ("ALF", "ALFIE", "FRED", "FREDDIE", "AL"),
    "ALISON": ("ALLISON", "ALLY", "ALLIE"),
    "AMANDA": ("MANDY", "MANDA"),
    "AMELIA": ("MILLIE", "AMY"),
    "ANDREW": ("ANDY", "DREW"),
    "ANNE": ("ANN", "ANNIE", "NAN", "NANCY"),
    "ANTHONY": ("TONY", "ANT", "ANTONY"),
    "ARTHUR": ("ART", "ARTIE"),
    "BARBARA": ("BARB", "BABS", "BARBIE"),
    "BENJAMIN": ("BEN", "BENNY", "BENJI", "BENJY"),
    "CAROLINE": ("CAROLYN", "CARRIE", "CARO"),
    "CATHERINE": ("KATHERINE", "KATHARINE", "KATHRYN", "CATHRYN", "KATE", "KATIE", "KATY",
                  "KATHY", "CATHY", "CATH", "KAT", "KITTY", "KATRINA"),
    "CHARLES": ("CHARLIE", "CHAS", "CHUCK", "CHARLEY"),
    "CHARLOTTE": ("CHARLIE", "LOTTIE", "LOTTY", "CHARLEY"),
    "CHRISTINA": ("CHRIS", "CHRISSIE", "CHRISSY", "TINA", "KRISTINA"),
    "CHRISTINE": ("CHRIS", "CHRISSIE", "CHRISSY", "TINA", "KRISTINE"),
    "CHRISTOPHER": ("CHRIS", "KIT", "KRISTOPHER", "TOPHER"),
    "CONSTANCE": ("CONNIE",),
    "DANIEL": ("DAN", "DANNY", "DANNIE"),
    "DAVID": ("DAVE", "DAVY", "DAVIE", "DAI"),
    "DEBORAH": ("DEBBIE", "DEBBY", "DEB", "DEBRA", "DEBS"),
    "DOMINIC": ("DOM", "DOMINICK"),
    "DONALD": ("DON", "DONNIE", "DONNY"),
    "DOROTHY": ("DOT", "DOTTIE", "DOLLY", "DOROTHEA"),
    "DOUGLAS": ("DOUG", "DOUGIE"),
    "EDMUND": ("ED", "EDDIE", "EDDY", "NED", "TED"),
    "EDWARD": ("ED", "EDDIE", "EDDY", "TED", "TEDDY", "NED"),
    "ELEANOR": ("ELLIE", "ELLY", "NELL", "NELLIE", "NORA", "ELINOR", "ELEANORE"),
    "ELIZABETH": ("LIZ", "LIZZIE", "LIZZY", "BETH", "BETTY", "BETTIE", "BETSY", "BESS",
                  "BESSIE", "ELIZA", "ELSIE", "LIBBY", "ELISABETH", "LISBETH"),
    "EMILY": ("EM", "EMMY", "EMILIE"),
    "EMMA": ("EM", "EMMY"),
    "FRANCES": ("FRAN", "FRANNIE", "FRANKIE"),
    "FRANCIS": ("FRANK", "FRANKIE", "FRAN"),
    "FREDERICK": ("FRED", "FREDDIE", "FREDDY", "FREDRICK", "FREDERIC"),
    "GEOFFREY": ("GEOFF", "JEFF", "JEFFREY", "JEFFERY"),
    "GERALD": ("GERRY", "JERRY", "GED"),
    "GILLIAN": ("GILL", "GILLY", "JILL", "JILLIAN"),
    "GREGORY": ("GREG", "GREGG"),
    "HANNAH": ("HANNA", "HANNY"),
    "HAROLD": ("HARRY", "HAL"),
    "HENRY": ("HARRY", "HAL", "HANK"),
    "ISABEL": ("ISABELLE", "ISABELLA", "ISOBEL", "IZZY", "ISSY", "BELLA", "IZZIE"),
    "JACOB": ("JAKE", "JAKOB"),
    "JACQUELINE": ("JACKIE", "JACQUI", "JACKY"),
    "JAMES": ("JIM", "JIMMY", "JIMMIE", "JAMIE", "JAS"),
    "JANET": ("JAN", "JANETTE", "JANNETTE"),
    "JENNIFER": ("JEN", "JENNY", "JENNI", "JENNIE", "JENN"),
    "JESSICA": ("JESS", "JESSIE", "JESSY"),
    "JOANNE": ("JO", "JOANNA", "JOANN", "JOJO"),
    "JOHN": ("JACK", "JOHNNY", "JOHNNIE", "JON", "JONNY"),
    "JONATHAN": ("JON", "JONNY", "JONNIE", "JONTY", "JONATHON", "JOHNATHAN"),
    "JOSEPH": ("JOE", "JOEY", "JOS"),
    "JOSEPHINE": ("JO", "JOSIE", "JOSEY", "JOSEPHINA"),
    "JOSHUA": ("JOSH",),
    "JUDITH": ("JUDY", "JUDE", "JUDI"),
    "KIMBERLEY": ("KIMBERLY", "KIM", "KIMMY"),
    "KENNETH": ("KEN", "KENNY", "KENNIE"),
    "LAWRENCE": ("LAURENCE", "LARRY", "LAURIE", "LAURI", "LOL"),
    "LEONARD": ("LEN", "LENNY", "LENNIE", "LEO"),
    "LOUISE": ("LOU", "LOUISA", "LULU"),
    "MALCOLM": ("MAL", "MALC"),
    "MARGARET": ("MAGGIE", "MAGS", "MEG", "PEGGY", "PEG", "MARGE", "MADGE", "MAISIE", "GRETA",
                 "MARGARETTE", "MARGERY", "MARJORIE"),
    "MARY": ("MOLLY", "MOLLIE", "POLLY", "MAE", "MAMIE"),
    "MATILDA": ("TILLY", "TILLIE", "MATTIE", "TILDA"),
    "MATTHEW": ("MATT", "MATTY", "MAT", "MATHEW"),
    "MICHAEL": ("MIKE", "MICK", "MICKY", "MICKEY", "MIKEY", "MICHEAL"),
    "MOHAMMED": ("MOHAMMAD", "MOHAMED", "MOHAMAD", "MUHAMMAD", "MUHAMMED", "MO"),
    "NATALIE": ("NAT", "NATTY", "NATALIA", "NATHALIE"),
    "NATHAN": ("NAT", "NATE"),
    "NATHANIEL": ("NAT", "NATE", "NATHAN", "NATHANAEL"),
    "NICHOLAS": ("NICK", "NICKY", "NICKIE", "NIK", "NICOLAS", "NIKOLAS"),
    "NICOLA": ("NICKY", "NIKKI", "NICKI", "NICOLE", "NICK"),
    "OLIVER": ("OLLIE", "OLLY", "OLI"),
    "OLIVIA": ("LIV", "LIVVY", "LIVIA", "OLLIE", "LIVVIE"),
    "PAMELA": ("PAM", "PAMMY"),
    "PATRICIA": ("PAT", "PATSY", "PATTY", "PATTI", "TRICIA", "TRISHA", "TRISH"),
    "PATRICK": ("PAT", "PADDY", "PADRAIG"),
    "PENELOPE": ("PENNY", "PEN", "NELL"),
    "PETER": ("PETE", "PETEY"),
    "PHILIP": ("PHIL", "PHILLIP", "PIP", "PHILLIPE"),
    "RAYMOND": ("RAY",),
    "REBECCA": ("BECKY", "BECKIE", "BECCA", "BEX", "BECKS", "REBEKAH"),
    "RICHARD": ("RICK", "RICKY", "RICKIE", "RICH", "RICHIE", "DICK", "DICKIE", "RICHY"),
    "ROBERT": ("BOB", "BOBBY", "BOBBIE", "ROB", "ROBBIE", "ROBBY", "BERT", "BERTIE", "RAB"),
    "RONALD": ("RON", "RONNIE", "RONNY"),
    "ROSEMARY": ("ROSIE", "ROSEMARIE", "ROSE"),
    "SAMANTHA": ("SAM", "SAMMY", "SAMMIE"),
    "SAMUEL": ("SAM", "SAMMY", "SAMMIE"),
    "SARAH": ("SARA", "SALLY", "SAL", "SADIE"),
    "STEPHEN": ("STEVEN", "STEVE", "STEVIE", "STEPH", "STEFAN"),
    "STEPHANIE": ("STEPH", "STEFANIE", "STEVIE", "STEFFI"),
    "STUART": ("STEWART", "STU"),
    "SUSAN": ("SUE", "SUSIE", "SUZIE", "SUZY", "SUSANNE", "SUZANNE", "SUSANNAH", "SUSANNA"),
    "TERENCE": ("TERRY", "TEL", "TERRANCE"),
    "THERESA": ("TERESA", "TESS", "TESSA", "TERRI", "TERRY", "TESSIE"),
    "THEODORE": ("THEO", "TED", "TEDDY"),
    "THOMAS": ("TOM", "TOMMY", "TOMMIE", "THOM"),
    "TIMOTHY": ("TIM", "TIMMY"),
    "VALERIE": ("VAL", "VALARIE"),
    "VICTORIA": ("VICKY", "VICKIE", "VICKI", "VIKKI", "TORI", "TORY", "VIC"),
    "VINCENT": ("VINCE", "VINNIE", "VINNY"),
    "WALTER": ("WALLY", "WALT"),
    "WILLIAM": ("BILL", "BILLY", "BILLIE", "WILL", "WILLY", "WILLIE", "LIAM", "WILF"),
    "WINIFRED": ("WINNIE", "WIN", "FREDA"),
    "ZACHARY": ("ZAC", "ZACH", "ZACK", "ZAK"),
}
"""Canonical given name → its nicknames and other spellings (normalised: upper-case ASCII).

A variant listed under several names (PAT, ALEX, CHRIS, …) matches each of them."""

SURNAME_PARTICLES = frozenset({
    "AL", "BEN", "BIN", "DA", "DAS", "DE", "DEL", "DELA", "DELLA", "DEN", "DER", "DI", "DOS",
    "DU", "EL", "LA", "LE", "LOS", "MAC", "MC", "ST", "TE", "TEN", "VAN", "VON",
})
"""Surname tokens too common to show two surnames are the same on their own."""

INVALID_NINO_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
"""NINO prefixes never issued to a person (TN is the temporary number, shared by many)."""


def _blank_to_null(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)

def _name_text(names: pa.Array) -> pa.Array:
    text = pc.utf8_normalize(names, "NFKD")
    text = pc.replace_substring_regex(text, r"\p{Mn}", "")  # accents, once split off their letters
    text = pc.replace_substring_regex(pc.utf8_upper(text), r"['\x{2019}`.]", "")
    return _blank_to_null(pc.utf8_trim_whitespace(pc.replace_substring_regex(text, "[^A-Z]+", " ")))

def _postcode_text(postcodes: pa.Array) -> pa.Array:
    return _blank_to_null(pc.replace_substring_regex(pc.utf8_upper(postcodes), "[^A-Z0-9]", ""))

def _uprn_text(uprns: pa.Array) -> pa.Array:
    return _blank_to_null(pc.utf8_trim_whitespace(uprns))

def _nino_text(ninos: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(pc.utf8_upper(ninos), r"\s+", "")
    issued = pc.and_(pc.match_substring_regex(text, PATTERNS["nino"]),
                     pc.invert(pc.is_in(pc.utf8_slice_codeunits(text, 0, 2),
                                        value_set=pa.array(sorted(INVALID_NINO_PREFIXES)))))
    return pc.if_else(issued, text, pa.scalar(None, text.type))

def _on_series(normalise: Callable[[pa.Array], pa.Array], values: pd.Series) -> pd.Series:
    """Apply an Arrow normaliser to each distinct value of a Series; the result is a ``str`` Series."""
    encoded = pc.dictionary_encode(_text_array(values))
    text = normalise(encoded.dictionary).take(encoded.indices)
    return text.to_pandas().astype("str").set_axis(values.index)

def normalise_name(names: pd.Series) -> pd.Series:
    """Normalise names for comparison.

    Accents are dropped, letters upper-cased, apostrophes and full stops removed, and every
    other run of non-letters made one space. Empty results become missing.

    >>> normalise_name(pd.Series([" o'Brien-Smith ", "José  María", "--"])).tolist()
    ['OBRIEN SMITH', 'JOSE MARIA', nan]
    """
    return _on_series(_name_text, names)

def normalise_postcode(postcodes: pd.Series) -> pd.Series:
    """Upper-case postcodes without spaces or punctuation ("sw1a 1aa" → "SW1A1AA")."""
    return _on_series(_postcode_text, postcodes)

def normalise_uprn(uprns: pd.Series) -> pd.Series:
    """UPRNs as trimmed strings (leading zeros kept: an identifier is compared as given)."""
    return _on_series(_uprn_text, uprns)

def normalise_nino(ninos: pd.Series) -> pd.Series:
    """NINOs upper-cased without spaces; malformed or never-issued numbers become missing.

    A temporary number (prefix TN) or an administrative prefix does not identify a person,
    so it must not link records.

    >>> normalise_nino(pd.Series(["ab 12 34 56 c", "TN010180M", "12"])).tolist()
    ['AB123456C', nan, nan]
    """
    return _on_series(_nino_text, ninos)


def _text_array(values: pd.Series) -> pa.Array:
    """Values as an Arrow large_string array (missing values null)."""
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pc.cast(array, pa.large_string())
