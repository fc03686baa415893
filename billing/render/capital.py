"""An amount in 元 in Chinese capital numerals (大写金额), as written on a settlement or a cheque.

The rules (《支付结算办法》附件 "正确填写票据和结算凭证的基本规定", as commonly applied):

- digits 零壹贰叁肆伍陆柒捌玖, places 拾佰仟 within a group of four, groups 万 and 亿, then 元角分;
- a ten is written with its digit: 10 元 is 壹拾元;
- a run of zeros inside the number is one 零 (1005 元: 壹仟零伍元; 100010000 元: 壹亿零壹万元); zeros at the end
  of the whole 元 are not written (1000 元: 壹仟元);
- a group of four that is all zeros is not written, its 万 neither (100000001 元: 壹亿零壹元);
- 角 after 元 is written directly (1000.50: 壹仟元伍角整); a zero 角 before a 分 is 零 (1.06: 壹元零陆分);
- less than a 元: no 元 (0.56: 伍角陆分); nothing at all: 零元整;
- 整 after 元 or 角, never after 分; a negative amount is led by 负.

Amounts are rounded to the fen, half up; 10^12 元 and more are refused (no settlement is that large).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿")
LIMIT = 10**12


def _group(n: int) -> str:
    """0 < n < 10000, without leading zero."""
    out: list[str] = []
    zero = False
    for place in range(3, -1, -1):
        d = n // 10**place % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[d] + PLACES[place])
    return "".join(out)


def _yuan(n: int) -> str:
    """0 < n < 10^12: the whole 元, without 元."""
    groups = [n // 10**(4 * i) % 10000 for i in range(3)]
    out: list[str] = []
    for i in range(2, -1, -1):
        g = groups[i]
        if g == 0:
            continue
        higher = any(groups[j] for j in range(i + 1, 3))
        gap = higher and (g < 1000 or groups[i + 1] == 0)  # zeros between the last digit written and this one
        out.append(("零" if gap else "") + _group(g) + GROUPS[i])
    return "".join(out)


def capital(amount: Decimal) -> str:
    """``amount`` (元) in capital numerals: 12345.67 → 壹万贰仟叁佰肆拾伍元陆角柒分."""
    fen = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen < 0:
        return "负" + capital(Decimal(-fen) / 100)
    if fen >= LIMIT * 100:
        raise ValueError(f"{amount} 元: 大写金额 is written for amounts under 10^12 元")
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    if fen == 0:
        return "零元整"
    out = _yuan(yuan) + "元" if yuan else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    elif cents and yuan:
        out += "零"
    if cents:
        return out + DIGITS[cents] + "分"
    return out + "整"
