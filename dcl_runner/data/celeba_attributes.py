"""CelebA's 40 attributes, in the order of list_attr_celeba.txt, with the DCL paper's imbalance levels.

Imbalance level = majority-class rate minus 50% (DCL Table 2). Three attributes are mostly
positive (Attractive 51%, Young 78%, No_Beard 83%); for the rest the positives are the minority.
The synthetic default dataset draws its attributes with these rates, and dcl.t2 prints the levels.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

ATTRIBUTE_NAMES: List[str] = [
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
    "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
]

# DCL paper Table 2, "Imbalance level" row (majority rate - 50, in %).
IMBALANCE_LEVEL: Dict[str, int] = {
    "Attractive": 1, "Mouth_Slightly_Open": 2, "Smiling": 2, "Wearing_Lipstick": 3, "High_Cheekbones": 5,
    "Male": 8, "Heavy_Makeup": 11, "Wavy_Hair": 18, "Oval_Face": 22, "Pointy_Nose": 22,
    "Arched_Eyebrows": 23, "Black_Hair": 26, "Big_Lips": 26, "Big_Nose": 27, "Young": 28,
    "Straight_Hair": 29, "Brown_Hair": 30, "Bags_Under_Eyes": 30, "Wearing_Earrings": 31, "No_Beard": 33,
    "Bangs": 35, "Blond_Hair": 35, "Bushy_Eyebrows": 36, "Wearing_Necklace": 38, "Narrow_Eyes": 38,
    "5_o_Clock_Shadow": 39, "Receding_Hairline": 42, "Wearing_Necktie": 43, "Eyeglasses": 44,
    "Rosy_Cheeks": 44, "Goatee": 44, "Chubby": 44, "Sideburns": 44, "Blurry": 45, "Wearing_Hat": 45,
    "Double_Chin": 45, "Pale_Skin": 46, "Gray_Hair": 46, "Mustache": 46, "Bald": 48,
}

MAJORITY_POSITIVE = {"Attractive", "Young", "No_Beard"}


def positive_rates() -> np.ndarray:
    """Positive rate per attribute (official order), derived from the paper's imbalance levels."""
    rates = []
    for name in ATTRIBUTE_NAMES:
        level = IMBALANCE_LEVEL[name] / 100.0
        rates.append(0.5 + level if name in MAJORITY_POSITIVE else 0.5 - level)
    return np.array(rates)
