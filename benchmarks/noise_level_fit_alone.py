"""``benchmarks/noise_level.py`` with the disk-radius refinement switched off (disk estimates keep the radius
of the disk fitted to the S2K kernel): the baseline of the blind-SR table in docs/ESTIMATOR.md ("Disk radius
from the pixels"). Same arguments:

    python benchmarks/noise_level_fit_alone.py --hr ../shared/data/test/BSD100 --n 20 --cases disk:3 disk:4 \\
        --noise 0,2,5 --blind --threads 2 --out docs/results/noise-bsd100-blind-disk-fit-alone-rows.csv
"""

import runpy
import sys
from pathlib import Path

import s2k.disk_radius

s2k.disk_radius.regressor_for = lambda scale, noise: None  # no regressor for any scale or noise
script = Path(__file__).with_name("noise_level.py")
sys.argv[0] = str(script)
runpy.run_path(str(script), run_name="__main__")
