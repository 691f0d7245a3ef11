# make_msi OUT.msi FILE...: a Windows Installer file holding the files, made
# by wixl (msitools) at test time. Sourced by the MSI tests.
make_msi() {
	local out=$1 files="" i=0
	shift
	for f in "$@"; do
		i=$((i + 1))
		files="$files<File Id=\"f$i\" Source=\"$f\" />"
	done
	cat >"$out.wxs" <<WXS
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="csod test" Language="1033" Version="1.0.0" Manufacturer="csod"
           UpgradeCode="6c1e3a52-8f3b-4f0e-9d4a-1b2c3d4e5f60">
    <Package InstallerVersion="200" Compressed="yes" />
    <Media Id="1" Cabinet="data.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="csodtest">
          <Component Id="Main" Guid="6c1e3a52-8f3b-4f0e-9d4a-1b2c3d4e5f61">$files</Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="F" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
WXS
	wixl -o "$out" "$out.wxs"
}
