Write-Host "héllo"
